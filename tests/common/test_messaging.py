"""The shared mechanisms against the real RabbitMQ and a real SQLite file: outbox, inbox,
delayed retry, parking, unroutable publishes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aio_pika
import pytest

from lb_common import inbox
from lb_common.db import Database
from lb_common.envelope import Envelope
from lb_common.errors import PermanentError, TransientError
from lb_common.events import OrderCancelled
from lb_common.handlers import Handler
from lb_common.messaging import Broker, Consumer
from lb_common.outbox import OutboxRelay, add_to_outbox, pending_count
from lb_common.parking import ParkingLot
from lb_common.retry import RetrySchedules
from lb_common.runtime import COMMON_TABLES
from lb_common.unit_of_work import UnitOfWork
from tests.support.broker import probe, queue_depth


def cancelled(order_key: str) -> Envelope:
    return Envelope.wrap(OrderCancelled(order_key=order_key), connection="c", order_key=order_key)


class Harness:
    def __init__(self, amqp_url: str, prefix: str, db: Database) -> None:
        self.broker = Broker(amqp_url, prefix)
        self.db = db
        self.relay = OutboxRelay(db, self.broker.publish_event, poll_interval=0.1)
        self.stop = asyncio.Event()
        self.consumers: list[Consumer] = []

    async def consumer(self, handler: Handler, delays: tuple[int, ...] = (200, 400)) -> Consumer:
        consumer = Consumer(
            self.broker,
            self.db,
            service="svc",
            handlers={OrderCancelled: handler},
            retry=RetrySchedules.uniform(delays),
            delivery_limit=5,
            prefetch=4,
        )
        await consumer.declare()
        await consumer.start()
        self.consumers.append(consumer)
        return consumer


@pytest.fixture
async def harness(amqp_url, broker_prefix, sqlite_url) -> AsyncIterator[Harness]:
    db = Database(sqlite_url("svc"))
    await db.create_tables(COMMON_TABLES)
    h = Harness(amqp_url, broker_prefix, db)
    await h.broker.connect()
    relay_task = asyncio.create_task(h.relay.run(h.stop))
    yield h
    h.stop.set()
    for consumer in h.consumers:
        await consumer.stop(timeout=5)
    await relay_task
    await h.broker.close()
    await db.dispose()


async def test_outbox_message_is_published_after_commit_and_handled_once(harness):
    seen: list[str] = []

    async def handler(event: OrderCancelled, uow: UnitOfWork) -> None:
        seen.append(uow.message.message_id)

    await harness.consumer(handler)
    envelope = cancelled("shopify:s:1")
    async with harness.db.transaction() as session:
        add_to_outbox(session, envelope)
    # The same message published a second time (a relay crash before marking it sent).
    await harness.broker.publish_envelope(envelope)

    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert seen == [envelope.message_id]
    async with harness.db.session() as session:
        assert await pending_count(session) == 0
        assert await inbox.already_handled(session, "svc", envelope.message_id)


async def test_rolled_back_transaction_publishes_nothing(harness):
    async def handler(event: OrderCancelled, uow: UnitOfWork) -> None:
        raise AssertionError("nothing should arrive")

    await harness.consumer(handler)
    with pytest.raises(RuntimeError):
        async with harness.db.transaction() as session:
            add_to_outbox(session, cancelled("shopify:s:2"))
            raise RuntimeError("effect failed")
    async with harness.db.session() as session:
        assert await pending_count(session) == 0


async def test_transient_failure_is_retried_after_a_delay(harness, amqp_url, broker_prefix):
    attempts: list[float] = []
    loop = asyncio.get_running_loop()

    async def flaky(event: OrderCancelled, uow: UnitOfWork) -> None:
        attempts.append(loop.time())
        if len(attempts) == 1:
            raise TransientError("the ledger did not answer")

    async with probe(amqp_url, broker_prefix) as events:
        await harness.consumer(flaky)
        await harness.broker.publish_envelope(cancelled("shopify:s:3"))
        progress = await events.wait_for("order.progress")
        for _ in range(100):
            if len(attempts) == 2:
                break
            await asyncio.sleep(0.05)
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 0.15  # waited in the 200 ms retry queue (minus jitter)
    assert "the ledger did not answer" in progress[0].payload["message"]
    assert events.of_type("order.failed") == []


async def test_permanent_failure_is_parked_with_its_reason(harness, amqp_url, broker_prefix):
    async def refuse(event: OrderCancelled, uow: UnitOfWork) -> None:
        raise PermanentError("SKU 'X-1' does not exist in e-conomic")

    async with probe(amqp_url, broker_prefix) as events:
        await harness.consumer(refuse)
        await harness.broker.publish_envelope(cancelled("shopify:s:4"))
        failed = await events.wait_for("order.failed")
    assert failed[0].payload["reason"] == "SKU 'X-1' does not exist in e-conomic"
    assert failed[0].order_key == "shopify:s:4"
    assert await queue_depth(amqp_url, f"{broker_prefix}.svc.parked") == 1
    [parked] = await ParkingLot(harness.broker, "svc").list()
    assert parked["attempts"] == 1


async def test_a_retry_from_parking_is_reported_to_the_order_timeline(
    harness, amqp_url, broker_prefix
):
    calls = 0

    async def refuse_once(event: OrderCancelled, uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise PermanentError("customer group 9 does not exist")

    lot = ParkingLot(harness.broker, "svc")
    async with probe(amqp_url, broker_prefix) as events:
        await harness.consumer(refuse_once)
        sent = cancelled("shopify:s:8")
        await harness.broker.publish_envelope(sent)
        await events.wait_for("order.failed")
        assert (await lot.retry(sent.message_id)).found
        [report] = await events.wait_for("order.progress")
    assert report.order_key == "shopify:s:8"
    assert report.causation_id == sent.message_id
    assert report.payload["step"] == "parked.retried"
    assert report.payload["details"]["message_type"] == "order.cancelled"
    assert "customer group 9" in report.payload["message"]
    for _ in range(50):
        if calls == 2:
            break
        await asyncio.sleep(0.05)
    assert calls == 2 and await lot.list() == []


async def test_retries_used_up_park_the_message(harness, amqp_url, broker_prefix):
    calls = 0

    async def always_down(event: OrderCancelled, uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        raise TransientError("e-conomic answered 503")

    async with probe(amqp_url, broker_prefix) as events:
        await harness.consumer(always_down, delays=(100, 100))
        await harness.broker.publish_envelope(cancelled("shopify:s:5"))
        failed = await events.wait_for("order.failed", timeout=10)
    assert calls == 3  # the first try and two retries
    assert "gave up after 3 attempts" in failed[0].payload["reason"]
    assert failed[0].payload["kind"] == "transient_exhausted"
    assert await queue_depth(amqp_url, f"{broker_prefix}.svc.parked") == 1
    [parked] = await ParkingLot(harness.broker, "svc").list()
    assert parked["attempts"] == 3


async def test_unroutable_publish_is_an_error(harness):
    # No queue is bound to this service's events yet: the broker returns the message.
    with pytest.raises(aio_pika.exceptions.DeliveryError):
        await harness.broker.publish_envelope(cancelled("shopify:s:6"))


async def test_unroutable_outbox_message_stays_pending_and_is_delivered_later(harness):
    async with harness.db.transaction() as session:
        add_to_outbox(session, cancelled("shopify:s:7"))
    await asyncio.sleep(0.3)
    async with harness.db.session() as session:
        assert await pending_count(session) == 1  # nobody listens yet: kept, not lost

    seen: list[str] = []

    async def handler(event: OrderCancelled, uow: UnitOfWork) -> None:
        seen.append(event.order_key)

    await harness.consumer(handler)
    for _ in range(100):  # the relay's backoff for this row is about a second
        if seen:
            break
        await asyncio.sleep(0.1)
    assert seen == ["shopify:s:7"]


async def test_the_inbox_row_goes_with_the_final_commit_not_with_an_intent(
    harness, amqp_url, broker_prefix
):
    """A handler that records an intent before a call to another system, and the effect after:
    a failure in between retries the message (the intent alone does not mark it handled); the
    final commit marks it, so a redelivery after that is a no-op."""
    handled_before: list[bool] = []  # per attempt: was the message already in the inbox?

    async def intent_then_effect(event: OrderCancelled, uow: UnitOfWork) -> None:
        async with uow.session() as session:
            handled_before.append(
                await inbox.already_handled(session, "svc", uow.message.message_id)
            )
        async with uow.transaction():
            uow.progress("credit.intent", f"Crediting {event.order_key}.")
        if len(handled_before) == 1:
            raise TransientError("the ledger did not answer")
        async with uow.commit():
            uow.progress("credit.done", "Credited.", {"order_key": event.order_key})

    sent = cancelled("shopify:s:9")
    async with probe(amqp_url, broker_prefix) as events:
        await harness.consumer(intent_then_effect)
        await harness.broker.publish_envelope(sent)
        [done] = await _progress_step(events, "credit.done")
        await harness.broker.publish_envelope(sent)  # a late duplicate
        await asyncio.sleep(0.5)
    assert handled_before == [False, False]  # the intent's commit did not mark it handled
    steps = [e.payload["step"] for e in events.of_type("order.progress")]
    assert steps.count("credit.intent") == 2 and steps.count("credit.done") == 1
    assert done.causation_id == sent.message_id and done.connection == sent.connection
    assert done.order_key == "shopify:s:9"
    async with harness.db.session() as session:
        assert await inbox.already_handled(session, "svc", sent.message_id)


async def test_a_payload_that_does_not_fit_its_event_is_parked_at_once_with_the_reason(
    harness, amqp_url, broker_prefix
):
    calls = 0

    async def handler(event: OrderCancelled, uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1

    bad = Envelope(
        type=OrderCancelled.TYPE,
        connection="c",
        order_key="shopify:s:10",
        correlation_id="shopify:s:10",
        payload={"reason": "customer asked"},  # no order_key
    )
    async with probe(amqp_url, broker_prefix) as events:
        await harness.consumer(handler)
        await harness.broker.publish_envelope(bad)
        [failed] = await events.wait_for("order.failed")
    reason = failed.payload["reason"]
    assert f"order.cancelled message {bad.message_id} cannot be read as OrderCancelled" in reason
    assert "order_key: Field required" in reason
    assert failed.payload["kind"] == "permanent"
    assert events.of_type("order.progress") == []  # not retried: it would not fit then either
    [parked] = await ParkingLot(harness.broker, "svc").list()
    assert parked["attempts"] == 1
    assert calls == 0


async def _progress_step(events, step: str, timeout: float = 20.0) -> list[Envelope]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = [e for e in events.of_type("order.progress") if e.payload["step"] == step]
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no order.progress step {step!r} within {timeout} s")


async def test_a_backlog_waits_in_the_queue_not_in_the_consumer(harness, amqp_url, broker_prefix):
    """However long the queue, a consumer holds `prefetch` (4 here) messages at once; the rest
    stay in RabbitMQ until those are acknowledged."""
    started: list[str] = []
    release = asyncio.Event()

    async def slow(event: OrderCancelled, uow: UnitOfWork) -> None:
        started.append(event.order_key)
        await release.wait()

    await harness.consumer(slow)
    for n in range(20):
        await harness.broker.publish_envelope(cancelled(f"shopify:s:backlog-{n}"))
    queue = f"{broker_prefix}.svc"
    waiting = await queue_depth(amqp_url, queue)
    for _ in range(200):  # until every message is either being handled or waiting
        if len(started) + waiting == 20:
            break
        await asyncio.sleep(0.05)
        waiting = await queue_depth(amqp_url, queue)
    assert (len(started), waiting) == (4, 16)
    release.set()
    for _ in range(200):
        if len(started) == 20:
            break
        await asyncio.sleep(0.05)
    assert len(started) == 20
