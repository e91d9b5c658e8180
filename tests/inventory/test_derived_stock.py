"""The ledger's stock after a booking, worked out from inventory's last reading and the booked
lines instead of read again (lb_inventory/derived_stock.py): the shop is set right without a
ledger call, a reading older than the bound is read again, and where unsure the shop is shown
too little, never too much."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from lb_common.events import BookedLine
from lb_inventory.derived_stock import CLOCK_MARGIN, Reading, in_reading, to_read, units_taken
from tests.inventory.test_stock_sync import (
    enable_sync,
    eventually,
    item_of,
    mismatches,
    publish_shop_report,
    receive,
    shop_levels,
    sync,
)
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.stores import Store
from tests.support.system import System, running_system


@pytest.fixture
async def system(store: Store, amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


@pytest.fixture
async def reading_every_time(
    store: Store, amqp_url, broker_prefix, tmp_path
) -> AsyncIterator[System]:
    """A bound of 0: every reading is older than it."""
    async with running_system(
        amqp_url, broker_prefix, tmp_path, inventory_overrides={"stock_read_seconds": 0}
    ) as running:
        yield running


async def _calls(system: System) -> Counter[str]:
    async with system.sandbox() as sandbox:
        answer = await sandbox.get(f"/_sandbox/agreements/{system.grant}/calls")
    answer.raise_for_status()
    return Counter(answer.json()["calls"])


async def _sell(system: System, sku: str, quantity: int, email: str) -> dict[str, Any]:
    """A paid order, booked, and inventory's `stock.read` entry for it."""
    body = shopify_json(
        shopify_order(
            lines=[{"sku": sku, "title": sku, "quantity": quantity, "price": "60.00"}],
            email=email,
        )
    )
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    await system.wait_for_status(key, "booked")

    async def followed() -> list[dict[str, Any]]:
        order = await system.order(key)
        return [e for e in order["timeline"] if e["step"] == "stock.read"]

    [entry] = await eventually(followed)
    return dict(entry)


async def _invoicing_knows_the_products(system: System) -> None:
    """A first sale: invoicing has read the products (kept 10 minutes), so the calls counted
    after it are inventory's."""
    await _sell(system, "MUG-BLACK", 1, "first@example.com")


async def _stock(system: System, number: str) -> dict[str, Any]:
    rows = (await system.apps["inventory"].get("/stock", params={"connection": "demo"})).json()
    return next(row for row in rows if row["product_number"] == number)


async def test_after_sales_the_shop_is_set_from_the_last_reading_without_a_ledger_read(
    system: System,
):
    await _invoicing_knows_the_products(system)
    await enable_sync(system)
    await sync(system)  # reads the catalogue: TSHIRT-RED-M 50 in the ledger and the shop
    before = await _calls(system)

    first = await _sell(system, "TSHIRT-RED-M", 3, "anna@example.com")
    second = await _sell(system, "TSHIRT-RED-M", 2, "anna@example.com")

    # The shop follows the ledger's booked sales...
    assert (await shop_levels(system))["TSHIRT-RED-M"] == 45
    assert first["details"]["pushed"] == {"TSHIRT-RED-M": 47}
    assert second["details"]["pushed"] == {"TSHIRT-RED-M": 45}
    assert "worked out from the last reading" in second["message"], second["message"]
    assert second["details"]["read"] == []
    # ...with no read of the ledger's stock since the sync's.
    spent = await _calls(system) - before
    assert spent["GET /products"] == 0, spent
    # The figure says what it is: the reading less the 5 units booked since.
    row = await _stock(system, "TSHIRT-RED-M")
    assert Decimal(row["available"]) == 45
    assert Decimal(row["sold_since_read"]) == 5
    # And it is the ledger's own: a full sync finds nothing to change.
    assert (await sync(system))["changed"] == 0


async def test_within_the_bound_a_ledger_change_we_did_not_book_waits_and_oversells_nothing(
    system: System,
):
    await enable_sync(system)
    await sync(system)  # 50
    await receive(system, "TSHIRT-RED-M", 5)  # goods arrive in the ledger: 55
    entry = await _sell(system, "TSHIRT-RED-M", 3, "bo@example.com")
    # Not read yet: the shop is shown the lower figure (50 - 3), never more than the ledger's.
    assert entry["details"]["pushed"] == {"TSHIRT-RED-M": 47}
    # The next full sync brings the receipt.
    assert (await sync(system))["changed"] == 1
    assert (await shop_levels(system))["TSHIRT-RED-M"] == 52


async def test_a_reading_older_than_the_bound_is_read_again_at_the_next_sale(
    reading_every_time: System,
):
    system = reading_every_time
    await _invoicing_knows_the_products(system)
    await enable_sync(system)
    await sync(system)  # 50
    await receive(system, "TSHIRT-RED-M", 5)  # 55
    before = await _calls(system)
    entry = await _sell(system, "TSHIRT-RED-M", 3, "cy@example.com")
    assert (await _calls(system) - before)["GET /products"] == 1
    assert entry["details"]["read"] == ["TSHIRT-RED-M"]
    assert entry["details"]["pushed"] == {"TSHIRT-RED-M": 52}
    assert Decimal((await _stock(system, "TSHIRT-RED-M"))["sold_since_read"]) == 0


async def test_a_product_that_keeps_no_stock_is_not_read_at_every_sale(system: System):
    # SHIPPING keeps no stock: remembered as such, not listed under /stock, not read again.
    await _sell(system, "TSHIRT-RED-M", 1, "di@example.com")
    before = await _calls(system)
    await _sell(system, "TSHIRT-RED-M", 1, "di@example.com")
    assert (await _calls(system) - before)["GET /products"] == 0
    rows = (await system.apps["inventory"].get("/stock", params={"connection": "demo"})).json()
    assert all(row["available"] is not None for row in rows), rows


# --- the rules, one by one --------------------------------------------------------------------

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_a_product_is_read_when_never_read_or_read_longer_ago_than_the_bound():
    known = {
        "A": Reading(Decimal(5), Decimal(5), NOW - timedelta(seconds=59)),
        "B": Reading(Decimal(5), Decimal(5), NOW - timedelta(seconds=60)),
    }
    assert to_read(["A", "B", "C"], known, NOW, timedelta(seconds=60)) == {"B", "C"}
    assert to_read(["A"], known, NOW, timedelta(0)) == {"A"}


def test_an_invoice_takes_its_units_off_and_a_credit_note_puts_them_back():
    lines = (
        BookedLine(sku="A", product_number="A", quantity=Decimal(2)),
        BookedLine(sku="A", product_number="A", quantity=Decimal(1)),
        BookedLine(sku=None, product_number="SHIPPING", quantity=Decimal(1)),
    )
    assert units_taken(lines, "sale") == {"A": Decimal(3), "SHIPPING": Decimal(1)}
    assert units_taken(lines, "credit note") == {"A": Decimal(-3), "SHIPPING": Decimal(-1)}
    reading = Reading(Decimal(10), Decimal(12), NOW)
    assert reading.less(Decimal(3)) == Reading(Decimal(7), Decimal(9), NOW)
    assert Reading(None, None, NOW).less(Decimal(3)) == Reading(None, None, NOW)


def test_a_booking_near_a_reading_counts_as_not_in_it():
    # Unsure: its units come off (the shop is shown too little for a while, never too much).
    assert in_reading(NOW - CLOCK_MARGIN - timedelta(milliseconds=1), NOW)
    assert not in_reading(NOW - CLOCK_MARGIN, NOW)
    assert not in_reading(NOW + timedelta(seconds=5), NOW)


async def test_a_shop_report_within_the_bound_is_compared_with_the_reading_not_a_ledger_read(
    system: System,
):
    location = await enable_sync(system)
    await sync(system)  # MUG-BLACK: 20 in the ledger and the shop
    item = await item_of(system, "MUG-BLACK")
    before = await _calls(system)
    # Someone in the shop counted 12: reported for a person, against the reading of the sync.
    await publish_shop_report(system, item, location, 12, datetime.now(UTC))

    async def reported() -> list[dict[str, Any]]:
        items = (await mismatches(system))["items"]
        return [m for m in items if m["kind"] == "level_differs"]

    [differs] = await eventually(reported)
    assert (differs["ledger_level"], differs["shop_level"]) == (20, 12)
    assert (await _calls(system) - before)["GET /products"] == 0
