"""Two of each, against the real broker, on SQLite and PostgreSQL: outbox relays that share the
outbox and publish each row once, a dead relay's rows taken over after its claim expires, and
ingest's delivery processors that share received deliveries without applying one twice or
out of order."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text

from lb_common.db import Database
from lb_common.envelope import Envelope
from lb_common.events import OrderCancelled
from lb_common.messaging import Broker
from lb_common.migrations import COMMON_TABLES
from lb_common.outbox import OutboxMessage, OutboxRelay, add_to_outbox, pending_count
from lb_common.sealing import DEVELOPMENT_KEY, SecretBox
from lb_ingest.connections import ConnectionCache
from lb_ingest.fast_path.processor import DeliveryProcessor
from lb_ingest.store import Delivery
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.broker import Probe, probe
from tests.support.stores import Store
from tests.support.system import running_system

# Services without LEDGERBRIDGE_SECRETS_KEY seal with the development key.
DEV_BOX = SecretBox([DEVELOPMENT_KEY])


@pytest.fixture
async def replicas(store: Store) -> AsyncIterator[tuple[Database, Database]]:
    url = await store.url("svc")
    first, second = Database(url), Database(url)
    await first.create_tables(COMMON_TABLES)
    yield first, second
    await first.dispose()
    await second.dispose()


@pytest.fixture
async def broker(amqp_url, broker_prefix) -> AsyncIterator[Broker]:
    b = Broker(amqp_url, broker_prefix)
    await b.connect()
    yield b
    await b.close()


async def _fill_outbox(db: Database, count: int) -> list[str]:
    ids = []
    async with db.transaction() as session:
        for i in range(count):
            envelope = Envelope.wrap(
                OrderCancelled(order_key=f"shopify:s:{i}"), connection="c", order_key=f"s:{i}"
            )
            add_to_outbox(session, envelope)
            ids.append(envelope.message_id)
    return ids


def _slow(publish: Callable[..., Awaitable[None]], seconds: float) -> Callable[..., Any]:
    """The broker's confirm taking `seconds` (a busy broker): the window in which two relays
    without claims both take the same rows."""

    async def slow(*args: Any) -> None:
        await publish(*args)
        await asyncio.sleep(seconds)

    return slow


async def _published(seen: Probe, count: int) -> Counter[str]:
    await seen.wait_for("order.cancelled", count, timeout=20)
    await asyncio.sleep(0.5)  # room for a second copy to show up
    return Counter(e.message_id for e in seen.of_type("order.cancelled"))


async def test_two_relays_publish_every_row_once(replicas, broker, amqp_url, broker_prefix):
    a, b = replicas
    ids = await _fill_outbox(a, 60)
    relays = [
        OutboxRelay(db, _slow(broker.publish_event, 0.2), batch_size=10, poll_interval=0.05)
        for db in (a, b)
    ]
    stop = asyncio.Event()
    async with probe(amqp_url, broker_prefix) as seen:
        tasks = [asyncio.create_task(relay.run(stop)) for relay in relays]
        try:
            counts = await _published(seen, len(ids))
        finally:
            stop.set()
            await asyncio.gather(*tasks)
    assert set(counts) == set(ids)
    twice = {m: n for m, n in counts.items() if n > 1}
    assert twice == {}, f"{len(twice)} rows published more than once"
    async with a.session() as session:
        assert await pending_count(session) == 0
        holders = (await session.exec(select(OutboxMessage.claimed_by))).all()  # type: ignore[call-overload]
    assert {holder for (holder,) in holders} == {None}


async def test_relays_hold_no_transaction_open_while_the_broker_confirms(
    replicas, broker, store, amqp_url, broker_prefix
):
    if store.kind != "postgresql":
        pytest.skip("PostgreSQL shows open transactions in pg_stat_activity")
    a, b = replicas
    await _fill_outbox(a, 5)
    confirming = asyncio.Event()
    release = asyncio.Event()

    async def stalled(*args: Any) -> None:
        confirming.set()
        await release.wait()
        await broker.publish_event(*args)

    relay = OutboxRelay(a, stalled)
    async with probe(amqp_url, broker_prefix):  # a queue for the messages to go to
        passing = asyncio.create_task(relay.publish_pending())
        await asyncio.wait_for(confirming.wait(), timeout=10)
        async with b.session() as session:
            open_transactions = (
                await session.exec(  # type: ignore[call-overload]
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state LIKE 'idle in transaction%'"
                    )
                )
            ).one()[0]
        release.set()
        assert await passing == 5
    assert open_transactions == 0


async def test_a_dead_relays_rows_are_published_once_its_claim_expires(
    replicas, broker, amqp_url, broker_prefix
):
    a, b = replicas
    ids = await _fill_outbox(a, 8)
    hung = asyncio.Event()

    async def dies(*args: Any) -> None:
        hung.set()
        await asyncio.Event().wait()  # never confirms: the process is as good as dead

    dead = OutboxRelay(a, dies, claim_seconds=1.5, holder="dead-relay")
    dead_pass = asyncio.create_task(dead.publish_pending())
    await asyncio.wait_for(hung.wait(), timeout=10)

    live = OutboxRelay(b, broker.publish_event, claim_seconds=1.5)
    async with probe(amqp_url, broker_prefix) as seen:
        assert await live.publish_pending() == 0  # claimed by the dead relay: hands off
        await asyncio.sleep(1.7)
        assert await live.publish_pending() == len(ids)
        counts = await _published(seen, len(ids))
    dead_pass.cancel()
    assert counts == Counter(dict.fromkeys(ids, 1))


# --- ingest's delivery processors ----------------------------------------------------------


async def _received(amqp_url: str, broker_prefix: str, tmp_path: Any, orders: int, versions: int):
    """Deliveries stored by a `web` ingest (outcome `received`), each order's versions in
    arrival order, the orders interleaved."""
    async with running_system(
        amqp_url, broker_prefix, tmp_path, "ingest", common_overrides={"role": "web"}
    ) as web:
        for v in range(versions):
            for o in range(orders):
                order = shopify_order(id=990000 + o)
                body = {**order, "updated_at": f"2025-03-01T10:{v:02d}:00Z", "note": f"v{v}"}
                answer = await web.post_shopify("orders/updated", shopify_json(body))
                assert answer.status_code == 200, answer.text


async def test_two_delivery_processors_apply_each_delivery_once_in_order(
    replicas, amqp_url, broker_prefix, tmp_path, store
):
    await _received(amqp_url, broker_prefix, tmp_path, orders=12, versions=4)
    url = await store.url("ingest")
    dbs = [Database(url), Database(url)]
    processors = [DeliveryProcessor(db, ConnectionCache(db, DEV_BOX), batch_size=5) for db in dbs]
    taken: list[set[int]] = [set(), set()]
    for i, processor in enumerate(processors):
        processor._read = _noting(processor._read, taken[i])  # type: ignore[method-assign]
    try:
        done = await asyncio.gather(*(_drain(p) for p in processors))
        async with dbs[0].session() as session:
            rows = (
                await session.exec(  # type: ignore[call-overload]
                    select(Delivery.outcome, func.count()).group_by(Delivery.outcome)
                )
            ).all()
    finally:
        for db in dbs:
            await db.dispose()
    # Every delivery applied once, none of them by both.
    assert sum(done) == 48, done
    # In order: each version arrived after the one before it, so none is stale.
    assert dict(rows) == {"accepted": 48}
    if store.kind == "postgresql":
        # Side by side on different deliveries: none was taken (read, parsed) by both.
        assert min(done) > 0, f"one processor did all the work: {done}"
        assert taken[0] & taken[1] == set()


def _noting(read: Callable[[dict[str, Any]], Awaitable[Any]], taken: set[int]) -> Any:
    async def noted(delivery: dict[str, Any]) -> Any:
        taken.add(delivery["id"])
        await asyncio.sleep(0.01)  # reading takes a moment: the other worker goes on meanwhile
        return await read(delivery)

    return noted


async def _drain(processor: DeliveryProcessor) -> int:
    total = 0
    idle = 0
    while idle < 5:
        applied = await processor.apply_received()
        total += applied
        idle = 0 if applied else idle + 1
        await asyncio.sleep(0.01 if applied else 0.05)
    return total
