"""Outbox lag on /metrics: the relay reports how many messages wait and how old the oldest is
(deploy/prometheus/alerts.yml pages when it passes a minute), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update

from lb_common.db import Database, utcnow
from lb_common.envelope import Envelope
from lb_common.events import OrderCancelled
from lb_common.migrations import COMMON_TABLES
from lb_common.outbox import OutboxMessage, OutboxRelay, add_to_outbox
from tests.support.stores import Store


@pytest.fixture
async def db(store: Store) -> AsyncIterator[Database]:
    database = Database(await store.url("svc"))
    await database.create_tables(COMMON_TABLES)
    yield database
    await database.dispose()


async def _broker_down(*_: Any) -> None:
    raise ConnectionError("broker unreachable")


def _gauge(name: str, service: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": service})


async def test_the_relay_reports_waiting_messages_and_the_oldest_ones_age(db: Database):
    async with db.transaction() as session:
        for i in range(3):
            event = OrderCancelled(order_key=f"shopify:s:{i}")
            add_to_outbox(session, Envelope.wrap(event, connection="c", order_key=f"s:{i}"))
    async with db.transaction() as session:
        # Written 90 s ago and never published: the broker has been away since.
        await session.exec(
            update(OutboxMessage).values(created_at=utcnow() - timedelta(seconds=90))
        )  # type: ignore[call-overload]

    relay = OutboxRelay(db, _broker_down, service="lagtest")
    assert await relay.publish_pending() == 0
    assert _gauge("ledgerbridge_outbox_pending", "lagtest") == 3
    oldest = _gauge("ledgerbridge_outbox_oldest_pending_seconds", "lagtest")
    assert oldest is not None and 90 <= oldest < 150

    # The broker is back: everything goes out, and the next measure says nothing waits.
    async def publish(*_: Any) -> None:
        return None

    async with db.transaction() as session:
        await session.exec(update(OutboxMessage).values(next_attempt_at=utcnow()))  # type: ignore[call-overload]
    back = OutboxRelay(db, publish, service="lagtest")
    assert await back.publish_pending() == 3
    # A relay measures on its first pass, then every few seconds: a fresh one looks now.
    fresh = OutboxRelay(db, publish, service="lagtest")
    await fresh.publish_pending()
    assert _gauge("ledgerbridge_outbox_pending", "lagtest") == 0
    assert _gauge("ledgerbridge_outbox_oldest_pending_seconds", "lagtest") == 0


async def test_a_backlog_in_the_outbox_goes_out_a_batch_per_pass_oldest_first(db: Database):
    """Messages that piled up while the broker was away are read and published `batch_size`
    at a time, never all at once, in the order they were written."""
    keys = [f"shopify:s:{i:02d}" for i in range(25)]
    async with db.transaction() as session:
        for key in keys:
            event = OrderCancelled(order_key=key)
            add_to_outbox(session, Envelope.wrap(event, connection="c", order_key=key))
    published: list[str] = []

    async def publish(_key: str, body: bytes, *_: Any) -> None:
        published.append(Envelope.from_bytes(body).order_key or "")

    relay = OutboxRelay(db, publish, batch_size=10, service="batchtest")
    passes = [await relay.publish_pending() for _ in range(4)]
    assert passes == [10, 10, 5, 0]
    assert published == keys


async def test_rows_written_while_the_relay_publishes_go_out_next_and_a_stopped_relay_leaves_none_claimed(
    db: Database,
):
    """The relay claims what was written during a pass as it records that pass: published on
    the next pass at once; and a relay that stops then gives that claim back, so another
    relay (or the service's next start) publishes those rows without waiting out the claim."""

    async def write(keys: list[str]) -> None:
        async with db.transaction() as session:
            for key in keys:
                event = OrderCancelled(order_key=key)
                add_to_outbox(session, Envelope.wrap(event, connection="c", order_key=key))

    await write(["shopify:s:first"])
    stop = asyncio.Event()
    published: list[str] = []

    async def publish(_key: str, body: bytes, *_: Any) -> None:
        key = Envelope.from_bytes(body).order_key or ""
        published.append(key)
        if key == "shopify:s:first":
            await write(["shopify:s:second"])
        if key == "shopify:s:second":
            await write(["shopify:s:third"])
            stop.set()  # the service stops while its relay holds the third one's claim

    relay = OutboxRelay(db, publish, poll_interval=30.0, service="claimtest")
    await asyncio.wait_for(relay.run(stop), timeout=10)
    assert published == ["shopify:s:first", "shopify:s:second"]  # no poll interval between

    other = OutboxRelay(db, publish, claim_seconds=30.0, service="claimtest")
    assert await other.publish_pending() == 1
    assert published[-1] == "shopify:s:third"
