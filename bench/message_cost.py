"""Benchmark: the fixed CPU cost of one message in lb_common, consumed and published.

    .venv/bin/python bench/message_cost.py [--messages 2000] [--store sqlite|postgresql]
        [--prefetch 8] [--rounds 1] [--profile FILE]

Every service pays it about 8 times per order consumed and 8 times published, whatever its
handlers do. Runs real lb_common parts in this process, as a service does (tracing configured
as the runtime does, nobody listening): a `Consumer` on its own queues under a fresh prefix of
the broker in LEDGERBRIDGE_AMQP_URL, a `Database` (a SQLite file in a temp dir, or a fresh
PostgreSQL database on 127.0.0.1:5432 with `--store postgresql`) and an `OutboxRelay`.
Four phases, each timed from its first message to its last with the process's CPU time
(`time.process_time`: every thread, the database's driver and writer threads included):

1. consume, emit two: `--messages` `order.ready` (a realistic 3-line order, about 2 kB)
   waiting in the queue; the handler commits one effect row and emits `customer.resolved` and
   an `order.progress` (as customers does), relay stopped: CPU per message consumed;
2. relay: the relay publishes those 2 × `--messages` outbox rows (confirmed, to a queue nobody
   consumes): CPU per message published;
3. together: another `--messages` `order.ready` with the relay running, as in a service: CPU
   per message consumed, its two publishes included;
4. batchable: `--messages` `order.progress` through a `@batchable` handler that commits one
   effect row (as ingest's timeline reports): CPU per message consumed.

The messages are published before each phase's clock starts. Prints the figures; asserts no
times. `--profile FILE` writes a cProfile of the phases (the loop's thread only).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlmodel import Field, SQLModel, func, select

from lb_common import tracing
from lb_common.db import Database
from lb_common.envelope import Envelope
from lb_common.events import CustomerResolved, OrderProgress, OrderReady
from lb_common.handlers import HandlerMap, batchable
from lb_common.messaging import Broker, Consumer
from lb_common.orders import Address, Buyer, CanonicalOrder, OrderLine, ShippingLine
from lb_common.outbox import OutboxMessage, OutboxRelay
from lb_common.runtime import COMMON_TABLES
from lb_common.settings import CommonSettings
from lb_common.unit_of_work import UnitOfWork

SERVICE = "bench"


class BenchEffect(SQLModel, table=True):
    """What the handlers write: one small row per message, as a real effect would."""

    __tablename__ = "bench_effects"

    id: int | None = Field(default=None, primary_key=True)
    order_key: str
    what: str


def an_order(n: int) -> CanonicalOrder:
    when = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    address = Address(
        name="Karen Jensen", address1="Vestergade 12", city="Aarhus C", zip="8000",
        country="Denmark", country_code="DK", phone="+4512345678",
    )  # fmt: skip
    lines = tuple(
        OrderLine(
            line_id=str(1000 + i),
            sku=f"SKU-{i}",
            title=f"Product number {i}",
            quantity=Decimal(1 + i),
            unit_price=Decimal("125.00"),
            tax=Decimal("25.00") * (1 + i),
            tax_rate=Decimal("0.25"),
            product_id=str(500 + i),
            variant_id=str(700 + i),
        )
        for i in range(3)
    )
    return CanonicalOrder(
        platform="shopify", shop="bench-shop", order_id=str(n), order_name=f"#{n}",
        version=when, created_at=when, currency="DKK", taxes_included=True,
        financial_status="paid", payment_gateways=("shopify_payments",), source_name="web",
        buyer=Buyer(platform_customer_id=str(n), email=f"buyer{n}@example.com",
                    first_name="Karen", last_name="Jensen"),
        billing_address=address, shipping_address=address, lines=lines,
        shipping_lines=(ShippingLine(line_id="s1", title="GLS", price=Decimal("39.00"),
                                     tax=Decimal("7.80"), tax_rate=Decimal("0.25")),),
        total_tax=Decimal("157.80"), total_price=Decimal("789.00"),
    )  # fmt: skip


async def resolve(event: OrderReady, uow: UnitOfWork) -> None:
    """Like customers' returning buyer with a new order: one row, two messages."""
    async with uow.commit() as session:
        session.add(BenchEffect(order_key=uow.message.order_key or "", what="resolved"))
        uow.emit(CustomerResolved(order=event.order, customer_number=42))
        uow.progress("customer", "Customer 42 (matched on email)")


@batchable
async def report(event: OrderProgress, uow: UnitOfWork) -> None:
    """Like ingest's timeline report: one row per message."""
    async with uow.commit() as session:
        session.add(BenchEffect(order_key=uow.message.order_key or "", what=event.step))


async def publish_orders(broker: Broker, n: int, *, first: int) -> None:
    for i in range(first, first + n):
        key = f"shopify:bench-shop:{i}"
        await broker.publish_envelope(
            Envelope.wrap(OrderReady(order=an_order(i)), connection="bench", order_key=key)
        )


async def postgres_url() -> str:
    import asyncpg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_postgres(url: str) -> None:
    import asyncpg

    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


async def count(db: Database, what: str | None = None) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(BenchEffect)
        if what is not None:
            query = query.where(BenchEffect.what == what)
        return int((await session.exec(query)).one())


async def published_count(db: Database) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(OutboxMessage)
        query = query.where(OutboxMessage.published_at.is_not(None))  # type: ignore[union-attr]
        return int((await session.exec(query)).one())


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("the bench's messages did not all get through")
        await asyncio.sleep(0.1)  # a cheap poll: its own CPU is in the figures


class Clock:
    """CPU and wall time of one phase; the profiler, when asked for, runs only inside phases."""

    def __init__(self, profiler: cProfile.Profile | None) -> None:
        self._profiler = profiler

    def __enter__(self) -> Clock:
        if self._profiler:
            self._profiler.enable()
        self._cpu, self._wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu = time.process_time() - self._cpu
        self.wall = time.perf_counter() - self._wall
        if self._profiler:
            self._profiler.disable()


def bench_consumer(
    broker: Broker, db: Database, service: str, handlers: HandlerMap, prefetch: int
) -> Consumer:
    """A consumer as a service makes one (its retry schedules, a delivery limit of 10)."""
    return Consumer(
        broker, db, service=service, handlers=handlers,
        retry=CommonSettings().retry_schedules(), delivery_limit=10, prefetch=prefetch,
    )  # fmt: skip


async def consumer_phase(
    name: str,
    consumer: Consumer,
    done: Callable[[], Awaitable[bool]],
    messages: int,
    profiler: cProfile.Profile | None,
) -> float:
    """Start `consumer`, wait until `done`, stop it, print the phase; CPU ms per message."""
    with Clock(profiler) as clock:
        await consumer.start()
        await until(done)
    await consumer.stop()
    line(name, clock, messages)
    return 1000 * clock.cpu / messages


def line(name: str, clock: Clock, messages: int) -> None:
    print(
        f"  {name:<34} {messages:>6} msgs  {clock.wall:6.2f} s  "
        f"{messages / clock.wall:7.0f} msg/s  CPU {1000 * clock.cpu / messages:6.3f} ms/msg",
        flush=True,
    )


async def one_round(args: argparse.Namespace, amqp_url: str, profiler: cProfile.Profile | None):
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    tmp = tempfile.TemporaryDirectory(prefix="message_cost_")
    url = (
        await postgres_url()
        if args.store == "postgresql"
        else f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    )
    db = Database(url)
    await db.create_tables([*COMMON_TABLES, BenchEffect])
    broker = Broker(amqp_url, prefix)
    await broker.connect()
    # A queue for what the relay publishes (publishing is `mandatory`), never consumed.
    side = await broker.connection.channel()
    sink = await side.declare_queue(f"{prefix}.sink", durable=True)
    await sink.bind(broker.topology.exchange, CustomerResolved.TYPE)
    await sink.bind(broker.topology.exchange, OrderProgress.TYPE)
    n = args.messages
    results: dict[str, float] = {}
    stopping = asyncio.Event()
    relay_task: asyncio.Task[None] | None = None
    try:
        # 1. consume one, emit two (relay not running).
        consumer = bench_consumer(broker, db, SERVICE, {OrderReady: resolve}, args.prefetch)
        await consumer.declare()
        await publish_orders(broker, n, first=0)
        results["consume"] = await consumer_phase(
            "consume order.ready, emit two", consumer,
            lambda: _at_least(count(db, "resolved"), n), n, profiler,
        )  # fmt: skip

        # 2. the relay publishes the 2n outbox rows.
        relay = OutboxRelay(db, broker.publish_event, holder="bench-relay", service=SERVICE)
        with Clock(profiler) as clock:
            relay_task = asyncio.create_task(relay.run(stopping))
            await until(lambda: _at_least(published_count(db), 2 * n))
        line("relay publishes", clock, 2 * n)
        results["publish"] = 1000 * clock.cpu / (2 * n)

        # 3. both at once, as in a service: the relay publishes while the consumer works.
        await publish_orders(broker, n, first=n)
        consumer = bench_consumer(broker, db, SERVICE, {OrderReady: resolve}, args.prefetch)
        await consumer.declare()
        results["together"] = await consumer_phase(
            "consume and relay together", consumer,
            lambda: _at_least(published_count(db), 4 * n), n, profiler,
        )  # fmt: skip
        stopping.set()
        await relay_task
        relay_task = None

        # 4. batchable order.progress (its own service's queue).
        batching = bench_consumer(
            broker, db, f"{SERVICE}-batch", {OrderProgress: report}, args.prefetch
        )
        await batching.declare()
        for i in range(n):
            key = f"shopify:bench-shop:{i}"
            progress = OrderProgress(
                service="invoicing", step="booked", message=f"Invoice {i} booked",
                details={"invoice": i, "total": "789.00"},
            )  # fmt: skip
            await broker.publish_envelope(
                Envelope.wrap(progress, connection="bench", order_key=key)
            )
        results["batch"] = await consumer_phase(
            "consume order.progress (@batchable)", batching,
            lambda: _at_least(count(db, "booked"), n), n, profiler,
        )  # fmt: skip
    finally:
        stopping.set()
        if relay_task is not None:
            await relay_task
        channel = await broker.connection.channel()
        topo = broker.topology
        queues = [f"{prefix}.sink"]
        for service in (SERVICE, f"{SERVICE}-batch"):
            queues += [topo.work_queue(service), topo.parking_queue(service)]
            queues += [
                topo.retry_queue(service, d)
                for d in CommonSettings().retry_schedules().queue_delays()
            ]
        for queue in queues:
            await channel.queue_delete(queue)
        await channel.exchange_delete(topo.exchange)
        await broker.close()
        await db.dispose()
        if args.store == "postgresql":
            await drop_postgres(url)
        tmp.cleanup()
    return results


async def _at_least(counting: Awaitable[int], target: int) -> bool:
    return await counting >= target


async def main_async(args: argparse.Namespace) -> None:
    amqp_url = os.environ.get("LEDGERBRIDGE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    tracing.configure(SERVICE, CommonSettings())  # as ServiceRuntime.start does
    # The loop thread's CPU time, not wall time (which counts waits for the GIL).
    profiler = cProfile.Profile(time.thread_time) if args.profile else None
    print(
        f"message_cost: {args.messages} messages per phase, store {args.store}, "
        f"prefetch {args.prefetch}",
        flush=True,
    )
    rounds = []
    for r in range(args.rounds):
        print(f"round {r + 1}", flush=True)
        rounds.append(await one_round(args, amqp_url, profiler))
    if args.rounds > 1:
        print("median CPU ms/msg: " + ", ".join(
            f"{k} {sorted(x[k] for x in rounds)[len(rounds) // 2]:.3f}" for k in rounds[0]
        ))  # fmt: skip
    if profiler is not None:
        profiler.dump_stats(args.profile)
        print(f"profile written to {args.profile}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="messages per phase")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--prefetch", type=int, default=CommonSettings().prefetch)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", help="write a cProfile of the phases to this file")
    args = parser.parse_args()
    asyncio.run(main_async(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
