"""Retention deletes what its rules allow and keeps what a bookkeeper or a redelivery still
needs, on SQLite and on PostgreSQL, in small batches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Table, insert, select

from lb_common.db import Database, utcnow
from lb_common.inbox import InboxEntry
from lb_common.outbox import OutboxMessage
from lb_common.retention import pruner
from lb_common.settings import CommonSettings
from lb_ingest import order_status
from lb_ingest import retention as ingest_retention
from lb_ingest.store import TABLES, Delivery, NotifiedObject, OrderRecord, TimelineEntry
from tests.support.databases import KINDS, scratch_database

MIGRATIONS = Path(__import__("lb_ingest").__file__).parent / "migrations"
NOW = utcnow()


def _t(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


@pytest.fixture(params=KINDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with scratch_database(request.param, tmp_path, MIGRATIONS, TABLES) as database:
        yield database


def _ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def _order(key: str, progress: str, problem: str | None = None) -> dict[str, Any]:
    """An order that got as far as `progress`, with `problem` open if given."""
    status = order_status.FAILED if problem else progress
    return {"order_key": key, "connection": "demo", "platform": "shopify", "shop": "s",
            "order_id": key, "status": status, "status_reason": problem, "progress": progress,
            "needs_attention": problem is not None, "received_at": _ago(60),
            "updated_at": _ago(60), "cancellation_sent": False}  # fmt: skip


def _delivery(n: int, order_key: str | None, days: float, outcome: str = "accepted") -> dict:
    return {"connection": "demo", "platform": "shopify", "topic": "orders/paid",
            "delivery_id": f"d-{n}", "received_at": _ago(days), "body": b'{"id": 1}',
            "outcome": outcome, "order_key": order_key}  # fmt: skip


def _notified(n: int, delivery: str, status: str, days: float) -> dict[str, Any]:
    return {"connection": "keap", "event_key": "order.add", "object_id": str(n),
            "stamp": "2026-01-01T00:00:00Z", "delivery_id": delivery, "status": status,
            "attempts": 0, "next_attempt_at": _ago(days), "received_at": _ago(days)}  # fmt: skip


def _entry(n: int, order_key: str, days: float) -> dict[str, Any]:
    return {"order_key": order_key, "at": _ago(days), "service": "ingest", "step": f"s{n}",
            "message": "m", "level": "info", "details": {}, "message_id": f"t-{n}"}  # fmt: skip


def _outbox(n: int, created_days: float, sent_days: float | None) -> dict[str, Any]:
    sent = _ago(sent_days) if sent_days is not None else None
    return {"message_id": f"o-{n}", "routing_key": "order.ready", "body": b"{}", "headers": "{}",
            "created_at": _ago(created_days), "published_at": sent,
            "next_attempt_at": _ago(created_days), "attempts": 0}  # fmt: skip


async def _seed(db: Database) -> None:
    orders = [
        _order("booked", order_status.BOOKED),
        _order("booked-paying", order_status.BOOKED, "registering the payment failed"),
        _order("failed", order_status.TRANSFERRED, "unknown SKU"),
        _order("waiting", order_status.WAITING),
        _order("skipped", order_status.SKIPPED),
    ]
    deliveries = [
        *[_delivery(n, "booked", 40 + n) for n in range(5)],  # five old: batches of two
        _delivery(10, "booked", 2),  # recent
        _delivery(11, "booked-paying", 40),
        _delivery(12, "failed", 400),
        _delivery(13, "waiting", 40),
        _delivery(14, "skipped", 40),
        _delivery(15, None, 40),  # a stock report: no order to replay
        _delivery(16, None, 40, outcome="received"),  # not applied yet
        _delivery(17, "never-seen", 40),  # a refund for an order that never came
        # Keap hooks: ids only, no order key
        {**_delivery(18, None, 40, outcome="notified"), "delivery_id": "n-waiting"},
        {**_delivery(19, None, 40, outcome="notified"), "delivery_id": "n-fetched"},
    ]
    notified = [
        _notified(1, "n-waiting", "waiting", 40),  # not fetched yet: kept, and its delivery
        _notified(2, "n-fetched", "fetched", 40),
        _notified(3, "n-fetched", "gone", 40),
        _notified(4, "n-recent", "fetched", 2),
    ]
    timeline = [
        _entry(1, "booked", 200),
        _entry(2, "booked", 190),
        _entry(3, "booked", 10),
        _entry(4, "failed", 400),
        _entry(5, "waiting", 200),
        _entry(6, "booked-paying", 200),
    ]
    outbox = [_outbox(1, 10, 9), _outbox(2, 10, 1), _outbox(3, 10, None)]
    inbox = [
        {"consumer": "ingest", "message_id": "i-old", "handled_at": _ago(31)},
        {"consumer": "ingest", "message_id": "i-new", "handled_at": _ago(29)},
        {"consumer": "other", "message_id": "i-old", "handled_at": _ago(45)},
    ]
    async with db.transaction() as session:
        connection = await session.connection()
        for model, rows in ((OrderRecord, orders), (Delivery, deliveries), (TimelineEntry, timeline),
                            (OutboxMessage, outbox), (InboxEntry, inbox),
                            (NotifiedObject, notified)):  # fmt: skip
            await connection.execute(insert(_t(model)), rows)


async def _column(db: Database, model: Any, name: str) -> set[Any]:
    async with db.session() as session:
        connection = await session.connection()
        return {v for (v,) in await connection.execute(select(_t(model).c[name]))}


async def test_pruning_removes_what_is_finished_and_old_and_keeps_the_rest(db: Database) -> None:
    await _seed(db)
    settings = CommonSettings(amqp_url=SecretStr("amqp://unused"), retention_batch_size=2)
    job = pruner(db, "ingest", settings, ingest_retention.rules(settings))

    counts = await job.prune(now=NOW)

    assert await _column(db, Delivery, "delivery_id") == {
        "d-10",  # recent
        "d-11",  # booked, but its payment step is still to finish: replayable
        "d-12",  # failed, however old: the bookkeeper replays it
        "d-13",  # waiting for its trigger
        "d-16",  # received, not yet applied
        "d-17",  # its order never came
        "n-waiting",  # a Keap hook whose order is still to be fetched
    }
    assert await _column(db, NotifiedObject, "object_id") == {"1", "4"}
    assert await _column(db, TimelineEntry, "message_id") == {"t-3", "t-4", "t-5", "t-6"}
    assert await _column(db, OutboxMessage, "message_id") == {"o-2", "o-3"}  # o-3: unsent
    assert await _column(db, InboxEntry, "handled_at") == {_ago(29)}
    assert counts == {
        "outbox": 1,
        "inbox": 2,
        "deliveries": 8,
        "timeline": 2,
        "notified_objects": 2,
    }
    # The orders themselves stay.
    assert len(await _column(db, OrderRecord, "order_key")) == 5

    # A second pass finds nothing more.
    assert sum((await job.prune(now=NOW)).values()) == 0


async def test_zero_days_keeps_everything(db: Database) -> None:
    await _seed(db)
    settings = CommonSettings(
        amqp_url=SecretStr("amqp://unused"),
        outbox_retention_days=0,
        inbox_retention_days=0,
        delivery_retention_days=0,
        timeline_retention_days=0,
    )
    job = pruner(db, "ingest", settings, ingest_retention.rules(settings))
    assert await job.prune(now=NOW + timedelta(days=3650)) == {}
    assert len(await _column(db, Delivery, "delivery_id")) == 15
