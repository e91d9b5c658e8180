"""The order's lease rides on the invoice's own transactions (lb_invoicing/order_lease.py): taken
with the intent, given back with the outcome. What a failure between them leaves must still
book exactly once and free the order for its next message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Connection, select

from lb_common.leases import Lease
from lb_invoicing import book
from lb_invoicing.store import BOOKED, InvoiceLink
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.system import System, running_system


@pytest.fixture
async def system(store, amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


def _leases_and_link(order_key: str, connection: Connection) -> tuple[list[Any], Any]:
    leases = connection.execute(select(Lease.__table__)).all()  # type: ignore[attr-defined]
    link = connection.execute(
        select(InvoiceLink.__table__).where(  # type: ignore[attr-defined]
            InvoiceLink.__table__.c.order_key == order_key  # type: ignore[attr-defined]
        )
    ).first()
    return list(leases), link


async def _state(system: System, order_key: str) -> tuple[list[Any], Any]:
    db = system.runtimes["invoicing"].parts.db
    return await db.read_sync(lambda connection: _leases_and_link(order_key, connection))


async def test_a_booked_invoice_gives_the_orders_lease_back_in_its_own_transaction(
    system: System,
):
    body = shopify_json(shopify_order(lines=[{"sku": "MUG-BLACK"}]))
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    await system.wait_for_status(key, "booked")
    leases, link = await _state(system, key)
    assert link.step == BOOKED
    assert leases == []


async def test_an_outcome_that_cannot_be_recorded_frees_the_order_and_books_it_once(
    system: System, monkeypatch: pytest.MonkeyPatch
):
    """The booking's last transaction fails after the ledger booked the invoice: nothing of it
    commits (step booked, the inbox row, the lease given back), the lease is released on the
    failure path, and the retry finds the booked invoice by the order key."""
    real = book._record_booked
    attempts = 0

    def fails_the_first_time(*args: Any, **kwargs: Any) -> None:
        nonlocal attempts
        attempts += 1
        real(*args, **kwargs)
        if attempts == 1:
            raise RuntimeError("the database went away before the commit")

    monkeypatch.setattr(book, "_record_booked", fails_the_first_time)
    body = shopify_json(shopify_order(lines=[{"sku": "MUG-BLACK"}]))
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    await system.wait_for_status(key, "booked", timeout=30)

    assert attempts == 2
    ledger = await system.ledger_state()
    mine = [i for i in ledger["booked_invoices"] if i["references"]["other"] == key]
    assert len(mine) == 1
    assert [d for d in ledger["drafts"] if d.get("references", {}).get("other") == key] == []
    leases, link = await _state(system, key)
    assert link.step == BOOKED and link.booked_invoice_number == str(mine[0]["bookedInvoiceNumber"])
    assert leases == []
