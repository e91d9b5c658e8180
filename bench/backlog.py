"""Benchmark: a backlog of paid orders in front of the stack, and the memory of every service
process while ingest accepts it and while the stack drains it.

    .venv/bin/python bench/backlog.py [--orders 100000] [--drain-seconds 300]
        [--orders-per-buyer 3] [--ingest web+worker|all] [--port-base N]

Starts the five processes and the sandbox the way `bench/e2e.py` does (scripts/stack.py, fresh
data dir, own broker prefix, ports from `--port-base` or a free range picked at random so other
benches and `make up` are left alone, the sandbox's ledger in memory), lets every service declare its queues, then stops
customers, invoicing and inventory (SIGTERM, as a deploy or an outage would). ingest runs as
one `web` and one `worker` process (`--ingest all`: one process, as `make up` runs it). Then:

1. accept: posts `--orders` signed Shopify `orders/paid` webhooks (bench/e2e.py's orders, each
   buyer ordering `--orders-per-buyer` times) as fast as ingest accepts them, 32 at a time, and
   waits until ingest has published every `order.ready` (customers' queue holds them all);
2. drain: starts the three services again and lets them work on the backlog for
   `--drain-seconds` (draining 100,000 orders at a few orders/s takes hours: the window shows
   the rate and whether memory stays flat, not the end).

RSS of every process is sampled each second, and the queue depths (passive declares) every
`--depth-every` seconds. Prints: accepted webhooks/s, peak RSS per process in each phase, RSS at
0/25/50/75/100 % of the drain window (flat is the goal: nothing kept per order), orders booked
per second in the window, `order.ready` taken per second by customers, and the queue depths over
time. Stops by itself and deletes its queues (with what is left in them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e import (
    CONCURRENCY,
    BookedWatcher,
    configure_environment,
    free_port_base,
    ingest_port,
    order_body,
    rss_kib,
    run_on_fresh_stack,
    seed,
)
from ingest_webhooks import read_status, request_bytes
from stack import Stack, say  # e2e put scripts/ on the path

DOWNSTREAM = ("customers", "invoicing", "inventory")
QUEUES = ("ingest", "customers", "invoicing", "inventory")
PHASE = 1  # bench/e2e.py's order ids for phase 1: 6,000,000 + visit × 100,000 + buyer


@dataclass
class Samples:
    """RSS (KiB) per process each second, and queue depths, with the phase they belong to."""

    rss: list[tuple[str, float, dict[str, int]]] = field(default_factory=list)
    depths: list[tuple[str, float, dict[str, int]]] = field(default_factory=list)

    def peak(self, phase: str) -> dict[str, int]:
        peaks: dict[str, int] = {}
        for name, _, values in self.rss:
            if name == phase:
                for process, kib in values.items():
                    peaks[process] = max(peaks.get(process, 0), kib)
        return peaks

    def rss_at(self, phase: str, when: float) -> dict[str, int]:
        """The sample of `phase` taken closest to `when` (seconds into the phase)."""
        mine = [(t, values) for name, t, values in self.rss if name == phase]
        return min(mine, key=lambda sample: abs(sample[0] - when))[1] if mine else {}


def bodies(orders: int, per_buyer: int) -> Iterator[bytes]:
    """First every buyer's first order, then their later ones (returning buyers)."""
    buyers = -(-orders // per_buyer)
    if buyers >= 100_000:
        raise SystemExit(
            "at most 99,999 buyers (bench/e2e.py's order ids); raise --orders-per-buyer"
        )
    visits = ((buyer, visit) for visit in range(per_buyer) for buyer in range(buyers))
    return (order_body(PHASE, b, v) for b, v in itertools.islice(visits, orders))


async def post_all(port: int, orders: int, per_buyer: int) -> float:
    """Post the orders as fast as ingest takes them, over CONCURRENCY keep-alive connections
    (bench/ingest_webhooks.py's bare HTTP/1.1: httpx cost as much CPU as ingest itself);
    returns the seconds it took."""
    todo = bodies(orders, per_buyer)
    started = time.perf_counter()

    async def poster() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for body in todo:  # the generator is shared: each body goes once
                writer.write(request_bytes(port, body))
                await writer.drain()
                status = await read_status(reader)
                if status != 200:
                    raise SystemExit(f"ingest answered {status}")
        finally:
            writer.close()

    await asyncio.gather(*(poster() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


def split_ingest(stack: Stack, worker_port: int) -> None:
    """ingest as one `web` process (stores and answers webhooks) and one `worker` (applies them
    and relays the outbox), the shape bench/ingest_webhooks.py measures."""
    stack.stop_one("ingest")
    stack.start_one("ingest", {"LEDGERBRIDGE_ROLE": "web"})
    worker = {"LEDGERBRIDGE_ROLE": "worker", "LEDGERBRIDGE_INGEST_PORT": str(worker_port)}
    stack.start_one("ingest", worker, label="ingest-worker")
    stack.wait_ready("ingest")


class Sampler:
    """Samples RSS every second and queue depths every `depth_every` seconds, in the background."""

    def __init__(self, stack: Stack, amqp_url: str, depth_every: float) -> None:
        self.stack, self.amqp_url, self.depth_every = stack, amqp_url, depth_every
        self.samples = Samples()
        self.phase, self.phase_started = "start", time.perf_counter()
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def enter(self, phase: str) -> None:
        self.phase, self.phase_started = phase, time.perf_counter()

    def _now(self) -> float:
        return time.perf_counter() - self.phase_started

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self.amqp_url)
        self._tasks = [asyncio.create_task(self._rss()), asyncio.create_task(self._depths())]

    async def depths(self) -> dict[str, int]:
        assert self._connection is not None
        found: dict[str, int] = {}
        async with self._connection.channel() as channel:
            for service in QUEUES:
                queue = await channel.declare_queue(
                    f"{self.stack.broker_prefix}.{service}", passive=True
                )
                found[service] = queue.declaration_result.message_count or 0
        return found

    async def _rss(self) -> None:
        while True:
            values = {}
            for name, process in list(self.stack.processes.items()):
                with contextlib.suppress(FileNotFoundError):  # one that just exited
                    values[name] = rss_kib(process.pid)
            self.samples.rss.append((self.phase, self._now(), values))
            await asyncio.sleep(1.0)

    async def _depths(self) -> None:
        while True:
            self.samples.depths.append((self.phase, self._now(), await self.depths()))
            await asyncio.sleep(self.depth_every)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()


async def wait_until_queued(sampler: Sampler, orders: int, timeout: float) -> float:
    """Seconds until customers' queue holds every order's `order.ready`."""
    started = time.perf_counter()
    while (await sampler.depths())["customers"] < orders:
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"ingest did not publish {orders} order.ready within {timeout:.0f} s")
        await asyncio.sleep(1.0)
    return time.perf_counter() - started


def mib(kib: int) -> str:
    return f"{kib / 1024:6.1f}" if kib else "     -"


def report(args: argparse.Namespace, figures: dict[str, float], samples: Samples) -> None:
    orders, window = args.orders, args.drain_seconds
    print(f"\n== backlog of {orders:,} orders ({args.orders_per_buyer} per buyer) ==")
    print(
        f"accept: {orders / figures['posting']:,.0f} webhooks/s accepted ({figures['posting']:.0f} s);"
        f" every order.ready queued {figures['queued']:.0f} s after the last webhook"
    )
    booked, taken = figures["booked"], figures["taken"]
    print(
        f"drain ({window:.0f} s window): {booked:,.0f} orders booked, {booked / window:.1f}/s; "
        f"customers took {taken:,.0f} order.ready, {taken / window:.1f}/s; "
        f"{figures['left']:,.0f} still in customers' queue"
    )
    names = list(samples.peak("drain")) or list(samples.peak("accept"))
    accept, drain = samples.peak("accept"), samples.peak("drain")
    shares = (0.0, 0.25, 0.5, 0.75, 1.0)
    trend = [samples.rss_at("drain", window * share) for share in shares]
    print(
        "RSS MiB         accept peak  drain peak  drain at "
        + "  ".join(f"{s:4.0%}" for s in shares)
    )
    for name in names:
        print(
            f"  {name:<14}{mib(accept.get(name, 0))}      {mib(drain.get(name, 0))}         "
            + " ".join(mib(t.get(name, 0)) for t in trend)
        )
    # Every sample of every phase (start-ups too); the sandbox stands in for e-conomic.
    highest, which = max(
        (kib, name) for _, _, values in samples.rss for name, kib in values.items()
        if name != "sandbox"
    )  # fmt: skip
    verdict = "under" if highest * 1024 < 300_000_000 else "OVER"
    print(
        f"highest RSS of any service process: {highest / 1024:.1f} MiB, {which} ({verdict} 300 MB)"
    )
    print("queue depths (ready messages):")
    print("  phase    second  " + "".join(f"{q:>11}" for q in QUEUES))
    for phase, t, depths in samples.depths:
        if phase in ("accept", "drain"):
            print(f"  {phase:<8} {t:7.0f}  " + "".join(f"{depths[q]:>11,}" for q in QUEUES))


async def bench(stack: Stack, args: argparse.Namespace) -> None:
    amqp_url = stack.env.get("LEDGERBRIDGE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    sampler = Sampler(stack, amqp_url, args.depth_every)
    watcher = BookedWatcher(amqp_url, stack.broker_prefix)
    figures: dict[str, float] = {}
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        await seed(http, stack.url("sandbox"))
        if args.ingest == "web+worker":
            await asyncio.to_thread(split_ingest, stack, args.port_base + 6)
        for name in DOWNSTREAM:  # their queues stay, declared when they started
            stack.stop_one(name)
        await sampler.start()
        await watcher.start()
        try:
            say(f"accept: posting {args.orders:,} orders with {', '.join(DOWNSTREAM)} stopped")
            sampler.enter("accept")
            figures["posting"] = await post_all(
                ingest_port(stack), args.orders, args.orders_per_buyer
            )
            say(f"accepted in {figures['posting']:.0f} s; waiting for every order.ready")
            figures["queued"] = await wait_until_queued(sampler, args.orders, timeout=1800)
            say(f"drain: starting {', '.join(DOWNSTREAM)} for {args.drain_seconds:.0f} s")
            sampler.enter("restart")
            for name in DOWNSTREAM:
                stack.start_one(name)
            await asyncio.to_thread(stack.wait_ready, *DOWNSTREAM)
            sampler.enter("drain")  # from the moment they take messages: start-up is not drain
            waiting, booked = (await sampler.depths())["customers"], len(watcher.seen)
            await asyncio.sleep(args.drain_seconds)
            left = (await sampler.depths())["customers"]
            figures.update(booked=len(watcher.seen) - booked, taken=waiting - left, left=left)
        finally:
            await sampler.stop()
            await watcher.close()
    report(args, figures, sampler.samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders in the backlog")
    parser.add_argument("--orders-per-buyer", type=int, default=3)
    parser.add_argument(
        "--drain-seconds", type=float, default=300, help="how long the stack drains the backlog"
    )
    parser.add_argument(
        "--ingest",
        choices=("web+worker", "all"),
        default="web+worker",
        help="ingest as one web and one worker process (faster to accept), or one process",
    )
    parser.add_argument(
        "--port-base", type=int, default=0, help="the sandbox's port (default: a free range)"
    )
    parser.add_argument(
        "--depth-every", type=float, default=15, help="seconds between queue-depth samples"
    )
    args = parser.parse_args()
    args.port_base = args.port_base or free_port_base()
    configure_environment(args.port_base)
    run_on_fresh_stack("backlog", f"{args.orders:,} orders", lambda stack: bench(stack, args))


if __name__ == "__main__":
    main()
