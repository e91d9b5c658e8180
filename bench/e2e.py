"""Benchmark: paid orders from webhook to booked invoice through the whole stack, and what each
order costs in e-conomic calls.

    .venv/bin/python bench/e2e.py [--orders 600] [--rate 5] [--orders-per-buyer 3]
                                  [--only steady|flat-out] [--shops 1] [--port-base N]
                                  [--store sqlite|postgresql]

One at a time (what a small shop sees, and where nothing shares a read): `--orders 30 --rate 1
--only steady`.

Starts the four services and the sandbox as separate processes, the way `make up` does
(scripts/stack.py; fresh data dir, own broker prefix, ports 181xx so a running `make up` is left
alone, the sandbox's ledger in memory only), then posts signed Shopify `orders/paid` webhooks from this process, twice:

1. steady: `--rate` orders per second;
2. flat out: as fast as ingest accepts them (32 at a time).

In each phase every buyer orders `--orders-per-buyer` times: first one order from each new buyer,
then the returning buyers' orders, each group waited for until booked, so the ledger calls of a
new and of a returning buyer's order are counted apart (the sandbox counts calls per endpoint:
GET /_sandbox/agreements/{token}/calls).

`--shops N` spreads the buyers over N connections, each booking into an e-conomic agreement of its
own: one agreement's token bucket allows about 28 orders/s at two calls an order, so a figure above
that is a figure for several agreements, as it would be in production (many shops into many
ledgers from one deployment).

`--store postgresql` gives each service a fresh database of its own on the machine's PostgreSQL
(127.0.0.1:5432, dropped at the end), the store operators scale out on; SQLite files otherwise.

Prints per phase: orders/s booked (each group from its first webhook to its last
`invoice.booked`, the pauses between the groups left out), webhook → booked
p50/p99 (until the `invoice.booked` message reaches a queue of our own), per group (new and
returning buyers) its orders/s booked and e-conomic calls per order by endpoint, CPU seconds and RSS per service process (and of the RabbitMQ node and the
PostgreSQL server when they run on this machine: they share its cores), and the agreement's own ceiling:
orders/s its token bucket allows at our calls per order (e-conomic: 10,000 tokens per 60 s, 3 per
call) and orders/day under the 50,000 calls/day fair use. Stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))

from chaos_stack import create_databases, drop_databases  # noqa: E402
from demo import danish_order  # noqa: E402
from raw_http import KeepAlivePool  # noqa: E402
from stack import PROCESSES, Stack, delete_broker_objects, port_taken, say  # noqa: E402

SECRET = "bench-secret"
SHOP = "bench-e2e.myshopify.com"
GRANT = "demo"
PROCESS_PORTS = 7  # sandbox, ingest (web), customers, invoicing, inventory, console, ingest worker
PRODUCTS = [f"BENCH-{i:03d}" for i in range(20)]
TOKENS_PER_MINUTE, CALL_COST, CALLS_PER_DAY = 10_000, 3, 50_000  # e-conomic's, as the sandbox
CONCURRENCY = 32
SERVICES_WITH_STORES = ("ingest", "customers", "invoicing", "inventory")


@dataclass
class Phase:
    name: str
    posted: dict[str, float] = field(default_factory=dict)  # order key → when posted
    booked: dict[str, float] = field(default_factory=dict)  # order key → invoice.booked seen
    calls: dict[str, Counter[str]] = field(default_factory=dict)  # group → endpoint → calls
    orders: dict[str, int] = field(default_factory=dict)  # group → orders
    group_seconds: dict[str, float] = field(default_factory=dict)  # first post → last booked
    cpu: dict[str, float] = field(default_factory=dict)
    rss: dict[str, int] = field(default_factory=dict)
    servers: dict[str, float] = field(default_factory=dict)  # the broker's, the database's CPU
    seconds: float = 0.0


@dataclass(frozen=True)
class Shop:
    """One shop ↔ ledger connection: `demo` (the environment's agreement `demo`) or one more
    with an agreement of its own (`--shops`)."""

    connection: str
    domain: str
    grant: str


SHOPS = [Shop("demo", SHOP, GRANT)]


def shop_of(buyer: int) -> Shop:
    return SHOPS[buyer % len(SHOPS)]


def order_body(phase: int, buyer: int, visit: int) -> bytes:
    """An order of `buyer`'s, who shops at `shop_of(buyer)`."""
    order_id = 5_000_000 + phase * 1_000_000 + visit * 100_000 + buyer
    sku = PRODUCTS[(buyer + visit) % len(PRODUCTS)]
    body = danish_order(
        order_id, 10_000 + order_id % 1_000_000, f"buyer{phase}-{buyer}@example.com",
        "Bench", f"Buyer {buyer}", [(sku, f"Bench product {sku}", 1, "125.00")],
    )  # fmt: skip
    return json.dumps(body, separators=(",", ":")).encode()


def headers(body: bytes, shop: Shop = SHOPS[0]) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Shop-Domain": shop.domain,
        "X-Shopify-API-Version": "2025-01",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
    }


class BookedWatcher:
    """Our own queue on the stack's exchange, bound to invoice.booked: when each order booked."""

    def __init__(self, amqp_url: str, prefix: str) -> None:
        self.amqp_url, self.prefix = amqp_url, prefix
        self.seen: dict[str, float] = {}
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self.amqp_url)
        channel = await self._connection.channel()
        exchange = await channel.declare_exchange(
            f"{self.prefix}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(f"{self.prefix}.bench-booked", auto_delete=True)
        await queue.bind(exchange, "invoice.booked")
        await queue.consume(self._on_message, no_ack=True)

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        key = json.loads(message.body)["payload"]["order_key"]
        self.seen.setdefault(key, time.perf_counter())

    async def wait_for(self, keys: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(k not in self.seen for k in keys):
            if time.monotonic() > deadline:
                missing = [k for k in keys if k not in self.seen]
                raise SystemExit(f"{len(missing)} orders not booked within {timeout:.0f} s")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()


async def ledger_calls(http: httpx.AsyncClient, sandbox: str) -> Counter[str]:
    """The calls made so far, all agreements together."""
    calls: Counter[str] = Counter()
    for shop in SHOPS:
        calls += Counter(
            (await http.get(f"{sandbox}/_sandbox/agreements/{shop.grant}/calls")).json()["calls"]
        )
    return calls


async def settled_calls(http: httpx.AsyncClient, sandbox: str) -> Counter[str]:
    """The counts once the stock reads after the last booking are done (no change for 1 s)."""
    last = await ledger_calls(http, sandbox)
    for _ in range(60):
        await asyncio.sleep(1.0)
        now = await ledger_calls(http, sandbox)
        if now == last:
            return now
        last = now
    return last


async def post_group(
    ingest: KeepAlivePool, bodies: list[tuple[Shop, bytes]], rate: float | None, phase: Phase
) -> list[str]:
    keys: list[str] = []
    started = time.perf_counter()

    async def post(i: int, shop: Shop, body: bytes) -> None:
        if rate is not None:
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        sent = time.perf_counter()  # a wait for a free connection counts: the shop waits too
        status, answer = await ingest.post(
            f"/webhooks/shopify/{shop.connection}", headers(body, shop), body
        )
        if status != 200:
            raise SystemExit(f"ingest answered {status}: {answer.decode(errors='replace')}")
        key = json.loads(answer)["order_key"]
        phase.posted[key] = sent
        keys.append(key)

    await asyncio.gather(*(post(i, shop, body) for i, (shop, body) in enumerate(bodies)))
    return keys


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def run_phase(
    number: int,
    name: str,
    stack: Stack,
    watcher: BookedWatcher,
    http: httpx.AsyncClient,
    ingest: KeepAlivePool,
    *,
    orders: int,
    per_buyer: int,
    rate: float | None,
) -> Phase:
    phase = Phase(name)
    buyers = orders // per_buyer
    groups = [("new buyer", [(shop_of(b), order_body(number, b, 0)) for b in range(buyers)])]
    visits = [(b, v) for v in range(1, per_buyer) for b in range(buyers)]
    groups.append(("returning buyer", [(shop_of(b), order_body(number, b, v)) for b, v in visits]))
    pids = {n: p.pid for n, p in stack.processes.items()} | {"(bench)": os.getpid()}
    cpu_before = {n: cpu_seconds(pid) for n, pid in pids.items()}
    servers = shared_servers(stack)
    servers_before = {n: server_cpu_seconds(ps) for n, ps in servers.items()}
    for group, bodies in groups:
        before = await settled_calls(http, stack.url("sandbox"))
        group_started = time.perf_counter()
        keys = await post_group(ingest, bodies, rate, phase)
        await watcher.wait_for(keys, timeout=120 + len(keys) / 2)
        phase.group_seconds[group] = max(watcher.seen[k] for k in keys) - group_started
        after = await settled_calls(http, stack.url("sandbox"))
        phase.calls[group] = after - before
        phase.orders[group] = len(bodies)
    # Over the groups' own time: the pauses between them, where the bench waits for the
    # ledger's call counts to settle (a second or two), are not the stack's work.
    phase.seconds = sum(phase.group_seconds.values())
    phase.booked = {k: watcher.seen[k] for k in phase.posted}
    phase.cpu = {n: cpu_seconds(pid) - cpu_before[n] for n, pid in pids.items()}
    phase.rss = {n: rss_kib(pid) for n, pid in pids.items()}
    phase.servers = {n: server_cpu_seconds(ps) - servers_before[n] for n, ps in servers.items()}
    return phase


def listening_pids(port: int) -> list[int]:
    """The processes listening on `port` on this machine (as `ss` sees them), none if `ss` can't
    tell: the broker's and the database's CPU are printed only where they can be read."""
    try:
        out = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({int(pid) for pid in re.findall(r"pid=(\d+)", out)})


def shared_servers(stack: Stack) -> dict[str, list[int]]:
    """The RabbitMQ node (its Erlang VM) and, with `--store postgresql`, the PostgreSQL server
    with its backends: what the stack makes them spend is on the same two cores."""
    amqp = urlsplit(stack.env.get("LEDGERBRIDGE_AMQP_URL", "amqp://127.0.0.1:5672/"))
    servers = {"rabbitmq": listening_pids(amqp.port or 5672)}
    if "postgresql" in stack.env.get("LEDGERBRIDGE_INGEST_DATABASE_URL", ""):
        servers["postgresql"] = listening_pids(5432)
    return {name: pids for name, pids in servers.items() if pids}


def server_cpu_seconds(roots: list[int]) -> float:
    """CPU of `roots` and of all their children, those running now and those that have ended
    (PostgreSQL's backends come and go; an ended child's time is in its parent's `cutime`)."""
    total = 0.0
    for root in roots:
        try:
            fields = Path(f"/proc/{root}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{root}/task/{root}/children").read_text().split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        for child in children:
            with contextlib.suppress(OSError):
                total += cpu_seconds(int(child))
    return total


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)]


def report(phase: Phase) -> None:
    total_orders = sum(phase.orders.values())
    latencies = [phase.booked[k] - phase.posted[k] for k in phase.posted]
    # Each group waits for the one before, so the rate is over the time spent in each.
    # (Before session 10 it was over the whole phase, the pauses between the groups included.)
    print(f"\n== {phase.name}: {total_orders} orders ==")
    print(
        f"booked {total_orders / phase.seconds:6.1f} orders/s   webhook → booked "
        f"p50 {statistics.median(latencies) * 1000:5.0f} ms   "
        f"p99 {percentile(latencies, 0.99) * 1000:5.0f} ms"
    )
    all_calls: Counter[str] = Counter()
    for group, calls in phase.calls.items():
        all_calls += calls
        n = phase.orders[group]
        seconds = phase.group_seconds[group]
        print(
            f"e-conomic calls per order, {group} ({n} orders, {n / seconds:.1f} orders/s "
            f"booked in {seconds:.1f} s): {sum(calls.values()) / n:.2f}"
        )
        for endpoint, count in sorted(calls.items(), key=lambda item: -item[1]):
            print(f"    {count / n:6.2f}  {endpoint}")
    per_order = sum(all_calls.values()) / total_orders
    print(f"e-conomic calls per order, all: {per_order:.2f}")
    calls_per_second = TOKENS_PER_MINUTE / CALL_COST / 60
    agreements = len(SHOPS)
    print(
        f"the agreement's ceiling at {per_order:.2f} calls/order: "
        f"{calls_per_second / per_order:.1f} orders/s ({TOKENS_PER_MINUTE:,} tokens/60 s, "
        f"{CALL_COST} per call), {CALLS_PER_DAY / per_order:,.0f} orders/day "
        f"({CALLS_PER_DAY:,} calls/day fair use)"
        + (
            f"; {agreements} agreements: {agreements * calls_per_second / per_order:.1f} orders/s"
            if agreements > 1
            else ""
        )
    )
    for name, seconds in phase.cpu.items():
        print(
            f"    {name:<10} CPU {seconds:6.1f} s ({seconds * 1000 / total_orders:5.1f} ms/order)"
            f"   RSS {phase.rss[name] / 1024:6.1f} MiB"
        )
    for name, seconds in phase.servers.items():
        print(
            f"    {name:<10} CPU {seconds:6.1f} s ({seconds * 1000 / total_orders:5.1f} ms/order)"
        )


async def seed(http: httpx.AsyncClient, sandbox: str) -> None:
    products = [{"number": n, "name": f"Bench product {n}", "price": "100.00",
                 "stock": "1000000"} for n in PRODUCTS]  # fmt: skip
    for shop in SHOPS:
        response = await http.post(
            f"{sandbox}/_sandbox/agreements/{shop.grant}/products", json=products
        )
        response.raise_for_status()


async def connect_shops(http: httpx.AsyncClient, stack: Stack, count: int) -> None:
    """`count` connections in all: `demo`, and more like it, each with an agreement of its own
    in the sandbox (so each has its own token bucket, as separate e-conomic agreements do)."""
    for i in range(1, count):
        shop = Shop(f"bench-{i}", f"bench-e2e-{i}.myshopify.com", f"bench-agreement-{i}")
        response = await http.put(
            f"{stack.url('ingest')}/connections/{shop.connection}",
            headers={"Authorization": f"Bearer {stack.admin_token}"},
            json={
                "platform": "shopify",
                "secrets": [SECRET],
                "settings": {"shop_domain": shop.domain},
                "ledger": {
                    "kind": "economic",
                    "credentials": {
                        "base_url": stack.env["LEDGERBRIDGE_ECONOMIC_BASE_URL"],
                        "app_secret_token": "demo",
                        "agreement_grant_token": shop.grant,
                    },
                },
            },
        )
        if response.status_code != 200:
            raise SystemExit(f"ingest refused {shop.connection}: {response.text}")
        SHOPS.append(shop)


async def bench(stack: Stack, args: argparse.Namespace) -> None:
    amqp_url = stack.env.get("LEDGERBRIDGE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    watcher = BookedWatcher(amqp_url, stack.env["LEDGERBRIDGE_BROKER_PREFIX"])
    await watcher.start()
    ingest = KeepAlivePool(ingest_port(stack), CONCURRENCY)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await connect_shops(http, stack, args.shops)
            await seed(http, stack.url("sandbox"))
            # Warm up (imports, first connections, reference data) outside the figures.
            warm = 3 * len(SHOPS)
            await run_phase(
                0, "warm-up", stack, watcher, http, ingest, orders=warm, per_buyer=3, rate=None
            )
            phases = [("steady", args.rate), ("flat out", None)]
            if args.only:
                phases = [p for p in phases if p[0] == args.only.replace("-", " ")]
            for number, (name, rate) in enumerate(phases, start=1):
                label = f"{name} ({rate:g} orders/s)" if rate else name
                report(
                    await run_phase(
                        number, label, stack, watcher, http, ingest,
                        orders=args.orders, per_buyer=args.orders_per_buyer, rate=rate,
                    )
                )  # fmt: skip
    finally:
        await ingest.close()
        await watcher.close()


def ingest_port(stack: Stack) -> int:
    return int(stack.url("ingest").rsplit(":", 1)[1])


def free_port_base() -> int:
    """A base with PROCESS_PORTS free ports above it, picked at random: ingest listens with
    SO_REUSEPORT, so a second stack on the same ports would share its webhooks, not fail."""
    rng = random.SystemRandom()
    while True:
        base = rng.randrange(20_000, 60_000, PROCESS_PORTS)
        if not any(port_taken(base + offset) for offset in range(PROCESS_PORTS)):
            return base


def configure_environment(port_base: int) -> None:
    """What the stack's processes inherit: quiet logs, the bench's webhook secret, and ports
    from `port_base` up (sandbox, ingest, customers, invoicing, inventory, console)."""
    os.environ.setdefault("LEDGERBRIDGE_LOG_LEVEL", "WARNING")
    os.environ["LEDGERBRIDGE_DEMO_SHOPIFY_SECRET"] = SECRET
    for offset, (_, _, variable, _, _) in enumerate(PROCESSES):
        os.environ.setdefault(variable, str(port_base + offset))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=600, help="orders per phase")
    parser.add_argument("--rate", type=float, default=5.0, help="steady phase, orders/s")
    parser.add_argument("--orders-per-buyer", type=int, default=3)
    parser.add_argument(
        "--only", choices=("steady", "flat-out"), help="run one phase (after the warm-up)"
    )
    parser.add_argument(
        "--port-base", type=int, default=0, help="the sandbox's port (default: a free range)"
    )
    parser.add_argument(
        "--store",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the services' stores: SQLite files, or a fresh PostgreSQL database each",
    )
    parser.add_argument(
        "--shops",
        type=int,
        default=1,
        help="connections, each into an e-conomic agreement of its own; buyers are spread "
        "over them (one agreement's token bucket allows about 28 orders/s at 2 calls each)",
    )
    args = parser.parse_args()
    configure_environment(args.port_base or free_port_base())
    run_on_fresh_stack(
        "e2e",
        f"{args.orders} orders per phase, {args.store}",
        lambda stack: bench(stack, args),
        store=args.store,
    )


def run_on_fresh_stack(
    name: str,
    what: str,
    run: Callable[[Stack], Coroutine[Any, Any, None]],
    *,
    store: str = "sqlite",
) -> None:
    """Start the stack in a fresh data dir with a broker prefix of its own (and, for
    `store="postgresql"`, fresh databases), `run` against it, and clean up (the data dir is
    kept when the run failed, for its logs)."""
    tmp = tempfile.mkdtemp(prefix=f"ledgerbridge-{name}-")
    run_id = uuid.uuid4().hex[:8]
    stack = Stack.prepare(data_dir=Path(tmp), broker_prefix=f"bench-{name}-{run_id}")
    databases = [f"bench_{name}_{run_id}_{service}" for service in SERVICES_WITH_STORES]
    if store == "postgresql":
        urls = asyncio.run(create_databases(databases))
        for service, database in zip(SERVICES_WITH_STORES, databases, strict=True):
            stack.env[f"LEDGERBRIDGE_{service.upper()}_DATABASE_URL"] = urls[database]
    # The sandbox in memory: saving its whole ledger after every write (what `make up` does, so
    # a restart keeps it) costs the stand-in, not us, more with every order.
    stack.env.pop("LEDGERBRIDGE_SANDBOX_STATE_FILE", None)
    say(f"{what}, {os.cpu_count()} cores; data and logs in {tmp}")
    stack.start()
    try:
        asyncio.run(run(stack))
    finally:
        stack.stop()
        delete_broker_objects(stack)
        if store == "postgresql":
            asyncio.run(drop_databases(databases))
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
