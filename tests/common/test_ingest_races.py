"""ingest under real concurrency on PostgreSQL: two processes deciding about the same order or the
same merchant action at the same moment.

Each test holds one transaction open at the point where the race happens (a web process whose
commit is slow, a lock another writer waits on), so the interleaving is the same on every run.
The deliveries are admitted and applied by ingest's own code (the writer's batch function, the
delivery processors), against the database a `web` ingest created.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text

from lb_common.db import Database
from lb_common.envelope import Envelope
from lb_common.events import OrderProgress
from lb_common.sealing import DEVELOPMENT_KEY, SecretBox
from lb_common.unit_of_work import DatabaseUnitOfWork
from lb_connectors.platforms.registry import get_adapter
from lb_ingest import consumers
from lb_ingest.arrival import Arrival
from lb_ingest.connections import ConnectionCache
from lb_ingest.fast_path.processor import DeliveryProcessor
from lb_ingest.fast_path.writer import DeliveryWriter, _store_batch
from lb_ingest.reading import read_arrival
from lb_ingest.webhooks import receive_webhook
from tests.platforms.factories import fixture, shopify_headers, shopify_json, shopify_order
from tests.support.stores import Store
from tests.support.system import DEMO_SECRET, running_system

# Services without LEDGERBRIDGE_SECRETS_KEY seal with the development key.
DEV_BOX = SecretBox([DEVELOPMENT_KEY])

REFUND = fixture("shopify_refunds_create_VND.json")
ORDER_ID = json.loads(REFUND)["order_id"]


@pytest.fixture
async def ingest_db(store: Store, amqp_url, broker_prefix, tmp_path) -> AsyncIterator[str]:
    """The URL of an ingest database on PostgreSQL, made (with its demo connection) by a `web`
    ingest that has stopped again."""
    if store.kind != "postgresql":
        pytest.skip("races between processes need PostgreSQL (SQLite has one writer at a time)")
    async with running_system(
        amqp_url, broker_prefix, tmp_path, "ingest", common_overrides={"role": "web"}
    ):
        pass
    yield await store.url("ingest")


def _paid_order() -> bytes:
    return shopify_json(
        shopify_order(
            id=ORDER_ID,
            currency="VND",
            tax_rate=None,
            taxes_included=False,
            lines=[{"id": 16014782595357, "sku": None, "title": "T-shirt", "price": "20",
                    "quantity": 2}],
        )
    )  # fmt: skip


async def _arrival(db: Database, topic: str, body: bytes, **header: str) -> Arrival:
    """A delivery as the request path reads it before handing it to the writer."""
    shop_connection = await ConnectionCache(db, DEV_BOX).get("demo")
    assert shop_connection is not None
    adapter = get_adapter("shopify")
    info = adapter.delivery(shopify_headers(topic, body, "unused", **header))
    arrival = read_arrival(adapter, shop_connection, info, body)
    assert isinstance(arrival, Arrival)
    return arrival


@contextlib.asynccontextmanager
async def _held(
    db: Database, arrivals: list[Arrival] | None = None, *, sql: str | None = None
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """A write transaction that stores `arrivals` as a `web` process does (or runs `sql`) and
    stays open until the caller commits it (the yielded function), at the latest on exit."""
    started, release = asyncio.Event(), asyncio.Event()

    async def transaction() -> None:
        async with db.write_connection() as conn:
            if arrivals:
                await conn.run_sync(functools.partial(_store_batch, arrivals=arrivals, defer=True))
            if sql:
                await conn.execute(text(sql))
            started.set()
            await release.wait()

    task = asyncio.create_task(transaction())

    async def commit() -> None:
        release.set()
        await task

    await asyncio.wait({task, asyncio.create_task(started.wait())}, return_when="FIRST_COMPLETED")
    if task.done():
        task.result()
    try:
        yield commit
    finally:
        await commit()


async def _lock_waiters(db: Database) -> int:
    async with db.session() as session:
        return (
            await session.exec(  # type: ignore[call-overload]
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
        ).one()[0]


async def _until(condition: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _outbox_types(db: Database, order_key: str) -> list[str]:
    """The types of the messages ingest put in its outbox for this order, in order."""
    async with db.session() as session:
        rows = (
            await session.exec(  # type: ignore[call-overload]
                text("SELECT routing_key, body FROM outbox ORDER BY id")
            )
        ).all()
    return [t for t, body in rows if json.loads(body)["order_key"] == order_key]


async def test_a_refund_applied_while_its_new_order_is_transferred_is_sent(ingest_db):
    """Web process 1 stores orders/paid but is slow to commit; web process 2 stores the order's
    refund and commits. Processor B applies the refund (its order unseen: held) while processor
    A applies the order (transferred). The refund must still go out, after the order."""
    slow_web, fast_web, a_db, b_db, locker = (Database(ingest_db) for _ in range(5))
    order = await _arrival(slow_web, "orders/paid", _paid_order())
    refund = await _arrival(fast_web, "refunds/create", REFUND)
    assert order.order is not None and refund.order_key == order.order.order_key
    key = refund.order_key
    processors = [
        DeliveryProcessor(db, ConnectionCache(db, DEV_BOX), batch_size=1) for db in (a_db, b_db)
    ]
    try:
        async with _held(slow_web, [order]) as commit_slow_web:
            await fast_web.write_sync(
                functools.partial(_store_batch, arrivals=[refund], defer=True)
            )
            async with _held(locker, sql="LOCK TABLE refunds IN EXCLUSIVE MODE") as unlock:
                # Processor B takes the refund and stops just before it writes it, held.
                applying_refund = asyncio.create_task(processors[1].apply_received())
                await _until(lambda: _lock_waiters(locker))
                await commit_slow_web()  # the order's delivery is visible now
                applying_order = asyncio.create_task(processors[0].apply_received())
                # A either finishes (it did not wait for B) or waits for B.
                await _until(lambda: _done_or_waiting(applying_order, locker, waiters=2))
                await unlock()
            assert await applying_refund == 1
            assert await applying_order == 1
        types = await _outbox_types(a_db, key)
    finally:
        for db in (slow_web, fast_web, a_db, b_db, locker):
            await db.dispose()
    assert "order.ready" in types
    assert "order.refunded" in types, f"the refund was held and never sent: outbox {types}"
    assert types.index("order.refunded") > types.index("order.ready")


async def _done_or_waiting(task: asyncio.Task[Any], db: Database, waiters: int) -> bool:
    return task.done() or await _lock_waiters(db) >= waiters


async def test_one_merchant_action_stored_by_two_processes_at_once_is_applied_once(ingest_db):
    """Two subscriptions deliver one merchant action to two web processes at the same moment:
    the second finds the first only through the unique index, and keeps its copy as a
    duplicate."""
    first_web, second_web = Database(ingest_db), Database(ingest_db)
    body = _paid_order()
    event = "merchant-action-1"
    first = await _arrival(first_web, "orders/paid", body, event_id=event)
    headers = shopify_headers("orders/paid", body, DEMO_SECRET, event_id=event)
    writer = DeliveryWriter(second_web, defer=True)
    stop = asyncio.Event()
    writing = asyncio.create_task(writer.run(stop))
    try:
        async with _held(first_web, [first]):
            answering = asyncio.create_task(
                receive_webhook(
                    ConnectionCache(second_web, DEV_BOX),
                    writer,
                    platform="shopify",
                    connection_name="demo",
                    headers=headers,
                    body=body,
                )
            )
            await _until(lambda: _done_or_waiting(answering, second_web, waiters=1))
        answer = await answering
        async with second_web.session() as session:
            outcomes = (
                await session.exec(  # type: ignore[call-overload]
                    text("SELECT outcome FROM deliveries ORDER BY id")
                )
            ).all()
    finally:
        stop.set()
        await writing
        await first_web.dispose()
        await second_web.dispose()
    assert answer.status_code == 200 and answer.body["status"] == "duplicate", answer
    assert sorted(o for (o,) in outcomes) == ["duplicate", "received"]


async def test_concurrent_progress_reports_never_move_an_order_backwards(ingest_db):
    """Reports of one order arrive at two consumers at once, in every order: the order ends at
    the furthest step, with every service's mark kept."""
    dbs = [Database(ingest_db) for _ in range(4)]
    order = await _arrival(dbs[0], "orders/paid", _paid_order())
    await dbs[0].write_sync(functools.partial(_store_batch, arrivals=[order], defer=False))
    key = order.order_key or (order.order.order_key if order.order else "")
    reports = [
        ("customers", "customer.resolved", {"customer_number": 7}),
        ("invoicing", "invoice.booked", {"booked_invoice_number": 41}),
        ("invoicing", "payment.registered", {"booked_invoice_number": 41}),
        ("inventory", "stock.read", {}),
    ] * 3
    try:
        held = f"SELECT 1 FROM orders WHERE order_key = '{key}' FOR UPDATE"
        async with _held(dbs[0], sql=held):
            # Every report reaches the order's row while it is held, then all go at once, the
            # later steps first.
            tasks = [
                asyncio.create_task(_report(dbs[1 + i % 3], key, service, step, details))
                for i, (service, step, details) in enumerate(reversed(reports))
            ]
            await _until(lambda: _done_or_waiting(tasks[-1], dbs[0], waiters=3))
        await asyncio.gather(*tasks)
        async with dbs[0].session() as session:
            row = (
                await session.exec(  # type: ignore[call-overload]
                    text(
                        "SELECT progress, status, customer_number, invoice_number, problems "
                        "FROM orders WHERE order_key = :key"
                    ),
                    params={"key": key},
                )
            ).one()
    finally:
        for db in dbs:
            await db.dispose()
    assert row.progress == "booked" and row.status == "booked", row
    assert (row.customer_number, row.invoice_number) == (7, 41)
    problems = row.problems if isinstance(row.problems, dict) else json.loads(row.problems)
    assert set(problems) == {"customers", "invoicing", "inventory"}


async def _report(db: Database, key: str, service: str, step: str, details: dict[str, Any]) -> None:
    event = OrderProgress(service=service, step=step, message=f"{step}.", details=details)
    envelope = Envelope.wrap(event, connection="demo", order_key=key)
    await consumers.handle_progress(event, DatabaseUnitOfWork(db, "ingest", envelope))
