"""The stalled-order sweeper (lb_ingest/stalled.py): an order whose message was lost on the way
is sent on again, but not one that waits out an announced retry or is parked for a person.

Messages are lost through the real broker: the customers service is stopped and its queue
purged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aio_pika
import pytest
from sqlalchemy import func, select

from lb_common.envelope import Envelope
from lb_common.events import OrderFailed, OrderProgress
from lb_common.messaging import Broker
from lb_common.outbox import OutboxMessage
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.broker import Probe, probe
from tests.support.system import System, running_system

SHORT_STALL = {"stall_after_seconds": 1.0, "stall_check_seconds": 0.5}


async def _purge(amqp_url: str, queue_name: str, wanted: int) -> None:
    """Wait until `queue_name` holds `wanted` messages, then drop them: a lost message."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for _ in range(200):
            queue = await channel.declare_queue(queue_name, passive=True)
            if queue.declaration_result.message_count >= wanted:
                await queue.purge()
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{queue_name} never held {wanted} message(s)")
    finally:
        await connection.close()


async def _outbox_drained(system: System) -> None:
    """Wait until ingest's outbox has no row left to publish."""
    db = system.runtimes["ingest"].parts.db
    for _ in range(300):
        async with db.session() as session:
            pending = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.published_at.is_(None))  # type: ignore[union-attr]
            )
        if pending == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("ingest's outbox never drained")


async def test_an_order_whose_order_ready_was_lost_is_booked_once_the_sweeper_sends_it_again(
    amqp_url, broker_prefix, tmp_path, store
):
    async with running_system(
        amqp_url, broker_prefix, tmp_path, ingest_overrides=SHORT_STALL
    ) as system:
        await system.stop("customers")
        body = shopify_json(
            shopify_order(
                id=7770001, lines=[{"sku": "MUG-BLACK", "title": "Mug", "price": "100.00"}]
            )
        )
        key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
        # Lost for good: purged only once ingest's relay holds nothing unpublished, so a publish
        # it retries (a confirm that came late on a busy broker) cannot bring the message back.
        await _outbox_drained(system)
        await _purge(amqp_url, f"{broker_prefix}.customers", 1)
        await system.start("customers")

        order = await system.wait_for_status(key, "booked", timeout=60)
        # On a busy machine the one-second stall time may pass more than once before booking.
        entries = [e for e in order["timeline"] if e["step"] == "stalled"]
        assert entries
        assert "No progress for" in entries[0]["message"]
        assert "sent on again: send order.ready again" in entries[0]["message"]
        ledger = await system.ledger_state()
        assert len(ledger["booked_invoices"]) == 1  # sent more than once, booked once


@pytest.fixture
async def ingest(amqp_url, broker_prefix, tmp_path, store) -> AsyncIterator[System]:
    async with running_system(
        amqp_url, broker_prefix, tmp_path, "ingest", ingest_overrides=SHORT_STALL
    ) as running:
        yield running


@pytest.fixture
async def events(amqp_url, broker_prefix, ingest) -> AsyncIterator[Probe]:
    async with probe(amqp_url, broker_prefix) as seen:
        yield seen


async def _report(amqp_url: str, prefix: str, envelope: Envelope) -> None:
    broker = Broker(amqp_url, prefix)
    await broker.connect()
    try:
        await broker.publish_envelope(envelope)
    finally:
        await broker.close()


def _ready(events: Probe, key: str) -> list[Envelope]:
    return [e for e in events.of_type("order.ready") if e.order_key == key]


async def test_orders_waiting_out_a_retry_or_parked_are_not_sent_again(
    amqp_url, broker_prefix, ingest, events
):
    keys = []
    for order_id in (7770011, 7770012, 7770013):
        body = shopify_json(shopify_order(id=order_id))
        keys.append((await ingest.post_shopify("orders/paid", body)).json()["order_key"])
    stalled, retrying, parked = keys
    await events.wait_for("order.ready", 3)
    [ready] = _ready(events, retrying)
    # customers announces a ten-minute wait for the one, and parks the other.
    await _report(
        amqp_url,
        broker_prefix,
        Envelope.wrap(
            OrderProgress(
                service="customers",
                step="retry",
                message="the ledger is unavailable; trying again in 10 min",
                details={"attempt": 1, "delay_ms": 600_000, "cause": "ledger_unavailable"},
            ),
            connection="demo",
            order_key=retrying,
            caused_by=ready,
        ),
    )
    [ready] = _ready(events, parked)
    await _report(
        amqp_url,
        broker_prefix,
        Envelope.wrap(
            OrderFailed(service="customers", step="order.ready", reason="No customer group."),
            connection="demo",
            order_key=parked,
            caused_by=ready,
        ),
    )
    await ingest.wait_for_steps(retrying, "retry")
    await ingest.wait_for_status(parked, "failed")

    # The plain stalled one is sent again (the sweeper runs), more than once as time goes by.
    for _ in range(100):
        if len(_ready(events, stalled)) >= 3:
            break
        await asyncio.sleep(0.1)
    assert len(_ready(events, stalled)) >= 3
    assert len(_ready(events, retrying)) == 1
    assert len(_ready(events, parked)) == 1
    for key in (retrying, parked):
        order = await ingest.order(key)
        assert "stalled" not in [e["step"] for e in order["timeline"]]


async def test_no_order_is_sent_again_while_the_queue_it_waits_in_holds_a_backlog(
    amqp_url, broker_prefix, tmp_path, store
):
    """Under a backlog an order that has not moved is waiting its turn: copies of it would
    only lengthen the queue. Once the queue drains, a truly stalled order is sent again."""
    overrides = {**SHORT_STALL, "stall_hold_when_queued": 3}
    async with (
        running_system(
            amqp_url, broker_prefix, tmp_path, "ingest", ingest_overrides=overrides
        ) as ingest,
        probe(amqp_url, broker_prefix) as events,
    ):
        connection = await aio_pika.connect(amqp_url)
        try:
            channel = await connection.channel()
            # customers' work queue, three messages ready and nobody consuming them.
            backlog = await channel.declare_queue(
                f"{broker_prefix}.customers", durable=True, arguments={"x-queue-type": "quorum"}
            )
            for _ in range(3):
                await channel.default_exchange.publish(
                    aio_pika.Message(b"{}"), routing_key=backlog.name
                )
            body = shopify_json(shopify_order(id=7770021))
            key = (await ingest.post_shopify("orders/paid", body)).json()["order_key"]
            await events.wait_for("order.ready", 1)

            await asyncio.sleep(3)  # six checks, each long after the stall time
            assert len(_ready(events, key)) == 1
            order = await ingest.order(key)
            assert "stalled" not in [e["step"] for e in order["timeline"]]

            await backlog.purge()
            for _ in range(100):
                if len(_ready(events, key)) >= 2:
                    break
                await asyncio.sleep(0.1)
            assert len(_ready(events, key)) >= 2
        finally:
            await connection.close()
