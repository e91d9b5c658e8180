"""After retention has forgotten an order's deliveries, timeline, outbox and inbox rows, the
same webhook and the same message delivered again book nothing twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import col, func, select

from lb_common.db import utcnow
from lb_common.inbox import InboxEntry
from lb_common.outbox import OutboxMessage
from tests.platforms.factories import SHOPIFY_SHOP, fixture
from tests.support.system import System, running_system

HKD = fixture("shopify_orders_create_discounts_HKD.json")
HKD_KEY = f"shopify:{SHOPIFY_SHOP}:{json.loads(HKD)['id']}"


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


async def _count(system: System, service: str, query) -> int:
    async with system.runtimes[service].parts.db.session() as session:
        return int((await session.exec(query)).one())


async def test_a_webhook_and_a_message_redelivered_after_pruning_book_nothing_twice(
    system: System,
) -> None:
    response = await system.post_shopify("orders/paid", HKD, webhook_id="webhook-1")
    assert response.json()["status"] == "accepted"
    await system.wait_for_status(HKD_KEY, "booked")
    # Every service's word on the order is in before "a year on" (inventory's comes last).
    await system.wait_for_steps(HKD_KEY, "invoice.booked", "stock.read")
    ingest = system.runtimes["ingest"].parts
    async with ingest.db.session() as session:
        ready = (
            await session.exec(
                select(OutboxMessage).where(OutboxMessage.routing_key == "order.ready")
            )
        ).one()

    # A year on: every service prunes.
    for runtime in system.runtimes.values():
        await runtime.pruner.prune(now=utcnow() + timedelta(days=365))
    order = await system.order(HKD_KEY)
    assert (order["status"], order["deliveries"], order["timeline"]) == ("booked", [], [])
    handled = (
        select(func.count())
        .select_from(InboxEntry)
        .where(InboxEntry.message_id == ready.message_id)
    )
    assert await _count(system, "customers", handled) == 0

    # The shop sends the same webhook again: no second order.ready.
    again = await system.post_shopify("orders/paid", HKD, webhook_id="webhook-1")
    assert again.status_code == 200, again.text
    ready_rows = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.routing_key) == "order.ready")
    )
    assert await _count(system, "ingest", ready_rows) == 0

    # A parked copy of the old order.ready is retried: customers handles it again (its inbox
    # forgot it), and invoicing finds the order's booked invoice.
    await ingest.broker.publish_event(ready.routing_key, ready.body, ready.message_id, {})
    for _ in range(200):
        timeline = (await system.order(HKD_KEY))["timeline"]
        if any("nothing was created again" in entry["message"] for entry in timeline):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"invoicing did not answer the redelivery: {timeline}")
    assert await _count(system, "customers", handled) == 1
    ledger = await system.ledger_state()
    assert len(ledger["booked_invoices"]) == 1
    assert len(ledger["customers"]) == 1
    assert ledger["drafts"] == []
    assert (await system.order(HKD_KEY))["status"] == "booked"
