"""Issue #16 on stock sync, end to end (all four services, the real broker, the sandbox):
units the shop sold but the ledger has not booked are never handed back to the shop; a level
difference the shop made stays reported until a person resolves it; the shop's locations are
listed and its numeric ids accepted; products without stock stay out of the reports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from lb_connectors.economic.ledger import stocked_available
from lb_connectors.economic.models import Product
from tests.inventory.test_stock_sync import (
    enable_sync,
    eventually,
    item_of,
    mismatches,
    publish_shop_report,
    receive,
    shop_levels,
    shop_state,
    sync,
)
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.system import System, running_system


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


@pytest.fixture
async def inventory(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path, "inventory") as running:
        yield running


async def set_shop_level(system: System, sku: str, available: int) -> None:
    """What the shop does by itself: a sale taken from its stock, or a person's count."""
    async with system.sandbox() as sandbox:
        response = await sandbox.post(
            f"/_sandbox/shopify/{system.shop_token}/levels",
            json={"inventory_item_id": await item_of(system, sku), "available": available},
        )
        assert response.status_code < 300, response.text


async def held(system: System) -> dict[str, str]:
    response = await system.apps["inventory"].get("/held", params={"connection": "demo"})
    assert response.status_code == 200, response.text
    return response.json()["per_sku"]


async def differences(system: System) -> list[dict[str, Any]]:
    return [m for m in (await mismatches(system))["items"] if m["kind"] == "level_differs"]


async def stock_read(system: System, key: str) -> list[dict[str, Any]]:
    order = await system.order(key)
    return [e for e in order["timeline"] if e["step"] == "stock.read"]


def mug_order(quantity: int, *, financial_status: str, **overrides: Any) -> dict[str, Any]:
    return shopify_order(
        lines=[{"sku": "MUG-BLACK", "title": "Mug", "quantity": quantity, "price": "60.00"}],
        financial_status=financial_status,
        **overrides,
    )


async def test_units_sold_but_not_booked_are_not_handed_back_to_the_shop(system: System):
    await enable_sync(system)
    await sync(system)  # MUG-BLACK: 20 in the ledger and the shop
    # A sale of 3 the ledger will only see when it is paid (trigger `paid`): the shop already
    # took the 3 from its stock.
    order = mug_order(3, financial_status="pending")
    key = (await system.post_shopify("orders/create", shopify_json(order))).json()["order_key"]
    await system.wait_for_status(key, "waiting")
    await set_shop_level(system, "MUG-BLACK", 17)

    async def holding() -> bool:
        return (await held(system)).get("MUG-BLACK") == "3"

    assert await eventually(holding)
    # Goods arrive in the ledger: 25 available there, of which 3 are sold in the shop.
    await receive(system, "MUG-BLACK", 5)
    result = await sync(system)
    assert result["changed"] == 1
    assert (await shop_levels(system))["MUG-BLACK"] == 22  # not 25: that would oversell 3

    # Paid, invoiced, booked: the ledger takes the 3 itself, the hold is released, and the
    # shop keeps its 22 with nothing reported.
    paid = {**order, "financial_status": "paid", "updated_at": "2025-03-01T11:00:00+01:00"}
    await system.post_shopify("orders/paid", shopify_json(paid))
    await system.wait_for_status(key, "booked")
    [entry] = await eventually(lambda: stock_read(system, key))
    assert entry["details"]["levels"] == {"MUG-BLACK": "22.00"} or Decimal(
        entry["details"]["levels"]["MUG-BLACK"]
    ) == Decimal(22)
    assert await held(system) == {}
    assert (await shop_levels(system))["MUG-BLACK"] == 22
    again = await sync(system)
    assert again["changed"] == 0
    assert await differences(system) == []


async def test_a_cancelled_order_releases_its_units(system: System):
    await enable_sync(system)
    await sync(system)
    order = mug_order(2, financial_status="pending")
    key = (await system.post_shopify("orders/create", shopify_json(order))).json()["order_key"]

    async def holding() -> bool:
        return (await held(system)).get("MUG-BLACK") == "2"

    assert await eventually(holding)
    cancelled = {
        **order,
        "cancelled_at": "2025-03-01T12:00:00+01:00",
        "updated_at": "2025-03-01T12:00:00+01:00",
    }
    await system.post_shopify("orders/cancelled", shopify_json(cancelled))
    await system.wait_for_status(key, "cancelled")

    async def released() -> bool:
        return await held(system) == {}

    assert await eventually(released)


async def test_a_reported_difference_stays_until_a_person_resolves_it(system: System):
    location = await enable_sync(system)
    await sync(system)
    # Someone in the shop counts 12 mugs, the ledger says 20: reported, not overwritten.
    await set_shop_level(system, "MUG-BLACK", 12)
    item = await item_of(system, "MUG-BLACK")
    await publish_shop_report(system, item, location, 12, datetime.now(UTC))
    [found] = await eventually(lambda: differences(system))
    assert (found["ledger_level"], found["shop_level"]) == (20, 12)

    # A sale of 1 is booked. The shop took it from its 12; the ledger now has 19. Pushing 19
    # would silently erase the shop's count: it is left alone and stays reported.
    order = mug_order(1, financial_status="paid")
    key = (await system.post_shopify("orders/paid", shopify_json(order))).json()["order_key"]
    await set_shop_level(system, "MUG-BLACK", 11)
    await system.wait_for_status(key, "booked")
    [entry] = await eventually(lambda: stock_read(system, key))
    assert entry["details"]["pushed"] == {}
    assert entry["details"]["differs"] == ["MUG-BLACK"]
    assert (await shop_levels(system))["MUG-BLACK"] == 11
    [still] = await differences(system)
    assert still["key"] == "MUG-BLACK" and still["found_at"] == found["found_at"]
    # The full sync does not erase it either.
    assert (await sync(system))["changed"] == 0
    assert len(await differences(system)) == 1
    assert (await shop_levels(system))["MUG-BLACK"] == 11

    app = system.apps["inventory"]
    route = "/mismatches/level_differs/MUG-BLACK/resolve"
    # Keeping the shop's figure needs the ledger corrected first: it still has 19 free.
    refused = await app.post(route, json={"keep": "shop"})
    assert refused.status_code == 409, refused.text
    assert "shop shows 11" in refused.text and "19 free" in refused.text
    assert len(await differences(system)) == 1
    # Keeping the ledger's figure sets the shop now and closes the report.
    kept = await app.post(route, json={"keep": "ledger"})
    assert kept.status_code == 200, kept.text
    assert kept.json()["shop_level"] == 19
    assert (await shop_levels(system))["MUG-BLACK"] == 19
    assert await differences(system) == []
    missing = await app.post(route, json={"keep": "ledger"})
    assert missing.status_code == 404


async def test_keeping_the_shops_figure_once_the_ledger_matches(inventory: System):
    location = await enable_sync(inventory)
    await sync(inventory)
    await set_shop_level(inventory, "MUG-BLACK", 15)
    item = await item_of(inventory, "MUG-BLACK")
    await publish_shop_report(inventory, item, location, 15, datetime.now(UTC))
    assert await eventually(lambda: differences(inventory))
    await receive(inventory, "MUG-BLACK", -5)  # the bookkeeper corrects e-conomic to 15
    resolved = await inventory.apps["inventory"].post(
        "/mismatches/level_differs/MUG-BLACK/resolve", json={"keep": "shop"}
    )
    assert resolved.status_code == 200, resolved.text
    assert await differences(inventory) == []
    assert (await shop_levels(inventory))["MUG-BLACK"] == 15


async def test_a_shop_level_above_what_is_free_is_lowered_and_stays_reported(inventory: System):
    location = await enable_sync(inventory)
    await sync(inventory)
    await set_shop_level(inventory, "MUG-BLACK", 30)  # the shop claims 10 the ledger lacks
    item = await item_of(inventory, "MUG-BLACK")
    await publish_shop_report(inventory, item, location, 30, datetime.now(UTC))

    async def lowered() -> bool:
        return (await shop_levels(inventory))["MUG-BLACK"] == 20

    assert await eventually(lowered)
    # The shop's level is set before the difference is committed with the message.
    [found] = await eventually(lambda: differences(inventory))
    assert found["shop_level"] == 30 and "lowered to 20" in found["message"]
    await sync(inventory)  # the shop now agrees, because we set it: still for a person
    assert len(await differences(inventory)) == 1


async def test_the_location_is_taken_as_a_number_or_gid_and_listed(inventory: System):
    app = inventory.apps["inventory"]
    [shop_location] = (await shop_state(inventory))["locations"]
    listed = await app.get("/locations", params={"connection": "demo"})
    assert listed.status_code == 200, listed.text
    assert listed.json() == [
        {
            "id": str(shop_location["id"]),
            "gid": f"gid://shopify/Location/{shop_location['id']}",
            "name": "Main warehouse",
            "active": True,
            "city": shop_location["city"],
        }
    ]
    number = shop_location["id"]
    for given in (number, str(number), f"gid://shopify/Location/{number}"):
        response = await app.put(
            "/connections/demo/settings", json={"enabled": True, "location_id": given}
        )
        assert response.status_code == 200, response.text
        assert response.json()["location_id"] == str(number)
    assert (await sync(inventory))["status"] == "ok"
    wrong = await app.put(
        "/connections/demo/settings", json={"enabled": True, "location_id": "main"}
    )
    assert wrong.status_code == 422
    assert "not a Shopify location" in wrong.text and "GET /locations" in wrong.text


async def test_products_without_stock_are_in_neither_report(system: System):
    await enable_sync(system)
    await sync(system)
    report = await mismatches(system)
    reported = {m["key"] for m in report["items"]}
    assert not reported & {"SHIPPING", "DISCOUNT", "WEB-DEFAULT"}, report
    order = shopify_order(
        lines=[{"sku": "TSHIRT-RED-M", "title": "T-shirt", "quantity": 1, "price": "120.00"}],
        shipping="39.00",
    )
    key = (await system.post_shopify("orders/paid", shopify_json(order))).json()["order_key"]
    await system.wait_for_status(key, "booked")
    [entry] = await eventually(lambda: stock_read(system, key))
    assert set(entry["details"]["levels"]) == {"TSHIRT-RED-M"}
    stock = (await system.apps["inventory"].get("/stock")).json()
    assert {row["product_number"] for row in stock} == {"TSHIRT-RED-M", "MUG-BLACK"}
    await sync(system)
    assert not {m["key"] for m in (await mismatches(system))["items"]} & {"SHIPPING"}


def test_a_product_in_a_group_without_inventory_keeps_no_stock():
    """e-conomic can still send inventory figures (zeros) for a product whose product group has
    no inventory; only `productGroup.inventoryEnabled` says whether it is stocked."""
    body: dict[str, Any] = {
        "productNumber": "SHIPPING",
        "name": "Shipping",
        "productGroup": {"productGroupNumber": 2, "inventoryEnabled": False},
        "inventory": {"available": -9, "inStock": -9, "orderedByCustomers": 0},
    }
    assert stocked_available(Product.model_validate(body)) is None
    body["productGroup"]["inventoryEnabled"] = True
    assert stocked_available(Product.model_validate(body)) == Decimal(-9)
    assert json.dumps(body)  # plain JSON, as the API sends it
