"""`order.units_held` messages arriving together are handled in one transaction (`@batchable`,
lb_common/messaging.py "Batches"), against the real RabbitMQ, on SQLite and PostgreSQL: every
version, copy and release counts once in the running totals, as one at a time would; while a
level difference is open they are handled one at a time, under the push lock."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlmodel import func, select

from lb_common.db import Database
from lb_common.envelope import Envelope
from lb_common.events import HeldLine, OrderUnitsHeld
from lb_common.inbox import InboxEntry
from lb_common.messaging import Broker, Consumer
from lb_common.retry import RetrySchedules
from lb_common.runtime import COMMON_TABLES
from lb_inventory.held_units import handle_units_held
from lb_inventory.holds import held_per_sku
from lb_inventory.store import TABLES, MismatchRow
from lb_inventory.sync import SyncLocks

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def units_held(order: str, minutes: int, released: bool = False, **units: str) -> Envelope:
    event = OrderUnitsHeld(
        order_key=order,
        version=T0 + timedelta(minutes=minutes),
        lines=tuple(HeldLine(sku=sku, quantity=Decimal(q)) for sku, q in units.items()),
        released=released,
        reason="cancelled" if released else None,
    )
    return Envelope.wrap(event, connection="c", order_key=order)


@pytest.fixture
async def running(amqp_url, broker_prefix, store) -> AsyncIterator[tuple[Broker, Database]]:
    db = Database(await store.url("inventory"))
    await db.create_tables([*COMMON_TABLES, *TABLES])
    broker = Broker(amqp_url, broker_prefix)
    await broker.connect()
    consumer = Consumer(
        broker,
        db,
        service="inventory",
        handlers={OrderUnitsHeld: functools.partial(handle_units_held, locks=SyncLocks(db))},
        retry=RetrySchedules.uniform((100,)),
        delivery_limit=5,
        prefetch=16,
    )
    await consumer.declare()
    await consumer.start()
    yield broker, db
    await consumer.stop(timeout=5)
    await broker.close()
    await db.dispose()


async def handled(db: Database, count: int) -> None:
    for _ in range(300):
        async with db.session() as session:
            if (await session.exec(select(func.count()).select_from(InboxEntry))).one() >= count:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} messages handled")


async def publish_all(broker: Broker, sent: list[Envelope]) -> None:
    await asyncio.gather(*(broker.publish_envelope(envelope) for envelope in sent))


@pytest.mark.parametrize("difference_open", [False, True])
async def test_versions_copies_and_releases_count_once(running, difference_open: bool) -> None:
    broker, db = running
    if difference_open:
        async with db.transaction() as session:
            session.add(
                MismatchRow(connection="c", kind="level_differs", key="OTHER", message="counted")
            )
    sent = [units_held(f"o{n}", 1, MUG="1", HAT="2") for n in range(10)]
    sent += [units_held(f"o{n}", 2, MUG="3") for n in range(5)]  # newer versions
    sent += [units_held("o7", 0, MUG="9")]  # an older version, late
    sent += [units_held("o9", 3, released=True)]
    commits: list[object] = []
    event.listen(db.engine.sync_engine, "commit", commits.append)
    await publish_all(broker, sent)
    await broker.publish_envelope(sent[3])  # a copy, as a relay that crashed sends it
    await handled(db, len(sent))
    await asyncio.sleep(0.3)  # the copy has been dealt with too

    async with db.session() as session:
        held = await held_per_sku(session, "c")
    # o0-o4: 3 MUG; o5-o8: 1 MUG + 2 HAT; o9 released.
    assert held == {"MUG": Decimal(15 + 4), "HAT": Decimal(8)}
    if not difference_open:
        assert len(commits) < len(sent)  # some of them were written together
