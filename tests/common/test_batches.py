"""Batches of `@batchable` messages (lb_common/messaging.py, "Batches") against the real
RabbitMQ, on SQLite and PostgreSQL: every message takes effect once, a failing message does not
take the others down with it, and a copy of a message in the same batch is dropped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlmodel import Field, SQLModel, func, select

from lb_common.db import Database
from lb_common.envelope import Envelope
from lb_common.errors import PermanentError
from lb_common.events import OrderCancelled, OrderProgress
from lb_common.handlers import batchable
from lb_common.messaging import Broker, Consumer
from lb_common.parking import ParkingLot
from lb_common.retry import RetrySchedules
from lb_common.runtime import COMMON_TABLES
from lb_common.unit_of_work import UnitOfWork
from tests.support.broker import probe


class BatchEffect(SQLModel, table=True):
    """What the handler under test writes: one row per message it handled."""

    __tablename__ = "test_batch_effects"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str
    order_key: str


def cancelled(order_key: str) -> Envelope:
    return Envelope.wrap(OrderCancelled(order_key=order_key), connection="c", order_key=order_key)


class Setup:
    def __init__(self, broker: Broker, db: Database) -> None:
        self.broker = broker
        self.db = db
        self.consumer: Consumer | None = None
        self.sessions: set[int] = set()  # the transactions the handler wrote in

    async def start(self, handler: Callable[[OrderCancelled, UnitOfWork], Awaitable[None]]) -> None:
        self.consumer = Consumer(
            self.broker,
            self.db,
            service="svc",
            handlers={OrderCancelled: handler},
            retry=RetrySchedules.uniform((100,)),
            delivery_limit=5,
            prefetch=8,
        )
        await self.consumer.declare()
        await self.consumer.start()

    async def effects(self) -> list[str]:
        async with self.db.session() as session:
            rows = await session.exec(select(BatchEffect.message_id))
            return sorted(rows.all())

    async def inbox_rows(self) -> int:
        from lb_common.inbox import InboxEntry

        async with self.db.session() as session:
            return int((await session.exec(select(func.count()).select_from(InboxEntry))).one())

    async def wait_for_inbox(self, count: int) -> None:
        for _ in range(200):
            if await self.inbox_rows() >= count:
                return
            await asyncio.sleep(0.05)


@pytest.fixture
async def setup(amqp_url, broker_prefix, store) -> AsyncIterator[Setup]:
    db = Database(await store.url("svc"))
    await db.create_tables([*COMMON_TABLES, BatchEffect])
    broker = Broker(amqp_url, broker_prefix)
    await broker.connect()
    made = Setup(broker, db)
    yield made
    if made.consumer is not None:
        await made.consumer.stop(timeout=5)
    await broker.close()
    await db.dispose()


def recording(setup: Setup, *, refuse: str | None = None, first_waits: float = 0.3):
    """A batchable handler writing one row per message; the first message it sees waits a
    moment, so the messages published meanwhile arrive together and form a batch."""
    seen = 0

    @batchable
    async def handle(event: OrderCancelled, uow: UnitOfWork) -> None:
        nonlocal seen
        seen += 1
        if seen == 1:
            await asyncio.sleep(first_waits)
        if event.order_key == refuse:
            raise PermanentError(f"order {refuse} cannot be recorded")
        async with uow.commit() as session:
            setup.sessions.add(id(session))
            session.add(BatchEffect(message_id=uow.message.message_id, order_key=event.order_key))

    return handle


async def test_messages_arriving_together_share_a_transaction_and_each_takes_effect_once(setup):
    await setup.start(recording(setup))
    sent = [cancelled(f"shopify:s:{i}") for i in range(12)]
    for envelope in sent:
        await setup.broker.publish_envelope(envelope)
    await setup.broker.publish_envelope(sent[5])  # a copy, as a relay that crashed sends it

    await setup.wait_for_inbox(12)
    await asyncio.sleep(0.3)  # the copy has been dealt with too
    assert await setup.effects() == sorted(e.message_id for e in sent)
    assert await setup.inbox_rows() == 12
    assert len(setup.sessions) < 12  # some of them were written together


async def test_a_failing_message_is_parked_and_the_rest_of_its_batch_is_committed(
    setup, amqp_url, broker_prefix
):
    async with probe(amqp_url, broker_prefix) as events:
        await setup.start(recording(setup, refuse="shopify:s:3"))
        sent = [cancelled(f"shopify:s:{i}") for i in range(8)]
        for envelope in sent:
            await setup.broker.publish_envelope(envelope)
        [failed] = await events.wait_for("order.failed")

    await setup.wait_for_inbox(7)
    assert failed.order_key == "shopify:s:3"
    assert failed.payload["reason"] == "order shopify:s:3 cannot be recorded"
    assert await setup.effects() == sorted(
        e.message_id for e in sent if e.order_key != "shopify:s:3"
    )
    [parked] = await ParkingLot(setup.broker, "svc").list()
    assert parked["message_id"] == sent[3].message_id


async def test_a_batchable_handler_that_opens_its_own_transaction_is_handled_alone(setup):
    @batchable
    async def with_intent(event: OrderCancelled, uow: UnitOfWork) -> None:
        await asyncio.sleep(0.1)
        async with uow.transaction() as session:  # not batchable after all
            session.add(BatchEffect(message_id=uow.message.message_id, order_key="intent"))
        async with uow.commit() as session:
            session.add(BatchEffect(message_id=uow.message.message_id, order_key=event.order_key))

    await setup.start(with_intent)
    sent = [cancelled(f"shopify:s:{i}") for i in range(6)]
    for envelope in sent:
        await setup.broker.publish_envelope(envelope)

    await setup.wait_for_inbox(6)
    assert await setup.effects() == sorted(e.message_id for e in sent for _ in range(2))


async def test_a_batch_is_acked_without_acking_a_message_still_being_handled(setup):
    """A batch may be acked with one `multiple` ack, which covers every earlier delivery on
    the channel: a message delivered before the batch and still being handled when the
    process dies must come back, not be acked with the batch."""
    hung: list[asyncio.Task[object]] = []

    async def slow(event: OrderProgress, uow: UnitOfWork) -> None:
        if not hung:  # the first attempt never ends: the process dies during it
            task = asyncio.current_task()
            assert task is not None
            hung.append(task)
            await asyncio.Event().wait()
        async with uow.commit() as session:
            session.add(BatchEffect(message_id=uow.message.message_id, order_key="slow"))

    def consumer() -> Consumer:
        return Consumer(
            setup.broker,
            setup.db,
            service="svc",
            handlers={OrderCancelled: recording(setup), OrderProgress: slow},
            retry=RetrySchedules.uniform((100,)),
            delivery_limit=5,
            prefetch=8,
        )

    first = consumer()
    await first.declare()
    await first.start()
    progress = Envelope.wrap(
        OrderProgress(service="svc", step="x", message="slow"), connection="c", order_key="k"
    )
    await setup.broker.publish_envelope(progress)
    for _ in range(100):
        if hung:
            break
        await asyncio.sleep(0.05)
    sent = [cancelled(f"shopify:s:{i}") for i in range(6)]
    for envelope in sent:
        await setup.broker.publish_envelope(envelope)
    await setup.wait_for_inbox(6)
    await asyncio.sleep(0.3)  # the batch's acks are out

    hung[0].cancel()  # the process dies: its channel closes with what it has not acked
    assert first._channel is not None
    await first._channel.close()

    setup.consumer = consumer()
    await setup.consumer.declare()
    await setup.consumer.start()
    await setup.wait_for_inbox(7)
    assert await setup.effects() == sorted([progress.message_id, *(e.message_id for e in sent)])
    await setup.consumer.stop(timeout=5)
    setup.consumer = None
    # Nothing is left unacked to come back: the batch's messages were acked too.
    assert await setup.broker.messages_waiting(setup.broker.topology.work_queue("svc")) == 0
