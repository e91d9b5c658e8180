"""Benchmark: signed, real-size Shopify order webhooks posted at ingest from a separate process.

Prints accepted/s, p50/p99 latency, and whether every webhook was stored and every order.ready
emitted; then the same load against a bare FastAPI endpoint that only returns 200, on the same
machine in the same run, so the ratio is visible.

Then the latency of webhooks that come one at a time (one client, a pause of 10-30 ms between
them, the answer awaited before the next is sent): on an idle stack, and while the worker works
through a backlog (`--backlog` deliveries posted while it was stopped; measured until the
backlog is gone). `--single 0` skips both.

    .venv/bin/python bench/ingest_webhooks.py [--requests 5000] [--connections 32] [--web 1]
        [--port 18001] [--skip-bare] [--single 300] [--backlog 3000]

Needs the local RabbitMQ. Starts ingest as ops would on a 2-core host with SQLite (`--web`
processes with role `web` sharing the port, one `worker` that relays the outbox; SQLite in a temp
dir, its own broker prefix) and the bare endpoint, and stops them after. `--web 0` runs ingest as
one process with role `all`. Also prints the CPU ingest used per webhook and how busy the machine
was, which says whether a figure is bound by CPU or by waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import hashlib
import hmac
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aio_pika

sys.path.insert(0, str(Path(__file__).resolve().parent))
import raw_http

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "public" / "shopify_orders_create_discounts_HKD.json"
SECRET = "bench-secret"
BARE_APP = """
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
app = FastAPI()
@app.post("/webhooks/shopify/demo")
async def ok(request: Request):
    await request.body()
    return JSONResponse({"status": "accepted"})
"""


def make_bodies(count: int, first_id: int = 9_000_000_000) -> list[bytes]:
    """Distinct orders in the shape and size of the public sample (about 14 kB each)."""
    sample = json.loads(SAMPLE.read_bytes())
    bodies = []
    for i in range(count):
        order = copy.deepcopy(sample)
        order["id"] = first_id + i
        order["name"] = f"#B{i}"
        bodies.append(json.dumps(order, separators=(",", ":")).encode())
    return bodies


def request_bytes(port: int, body: bytes) -> bytes:
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Shop-Domain": "bench.myshopify.com",
        "X-Shopify-API-Version": "2025-01",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
    }
    return raw_http.request_bytes(port, "/webhooks/shopify/demo", headers, body)


async def read_status(reader: asyncio.StreamReader) -> int:
    status, _ = await raw_http.read_response(reader)
    return status


async def load(
    port: int, requests: list[bytes], connections: int
) -> tuple[float, list[float], dict[int, int]]:
    """Keep-alive HTTP/1.1 over `connections` sockets; returns (seconds, latencies, statuses)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                request = queue.get_nowait()
                started = time.perf_counter()
                writer.write(request)
                await writer.drain()
                status = await read_status(reader)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.perf_counter() - started, latencies, statuses


async def one_at_a_time(
    port: int, requests: list[bytes], *, until: Callable[[], bool] | None = None
) -> tuple[list[float], dict[int, int]]:
    """Post `requests` one after the other on one keep-alive connection, 10-30 ms apart (so
    each finds the web process idle); stops early once `until()` says so (checked every 10)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i, request in enumerate(requests):
            if until is not None and i % 10 == 0 and i >= 10 and until():
                break
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status = await read_status(reader)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
            await asyncio.sleep(random.uniform(0.01, 0.03))
    finally:
        writer.close()
    return latencies, statuses


def wait_port(port: int, path: str, timeout: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answered on port {port}")


def percentiles(latencies: list[float]) -> tuple[float, float]:
    """(p50, p99) in ms."""
    ordered = sorted(latencies)
    p99 = ordered[max(int(len(ordered) * 0.99) - 1, 0)]
    return statistics.median(ordered) * 1000, p99 * 1000


def report(name: str, seconds: float, latencies: list[float], statuses: dict[int, int]) -> float:
    rate = len(latencies) / seconds
    p50, p99 = percentiles(latencies)
    print(
        f"{name:<28} {rate:8.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   statuses {statuses}"
    )
    return rate


def report_single(name: str, latencies: list[float], statuses: dict[int, int]) -> None:
    p50, p99 = percentiles(latencies)
    print(
        f"{name:<28} {len(latencies):8d} sent     p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   "
        f"statuses {statuses}"
    )


async def count_ready(amqp_url: str, prefix: str, expected: int, timeout: float = 60) -> int:
    """How many order.ready reached the bench's queue, waiting up to `timeout` for `expected`."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        deadline = time.monotonic() + timeout
        count = 0
        while time.monotonic() < deadline:
            declared = await channel.declare_queue(f"{prefix}.bench-ready", passive=True)
            count = declared.declaration_result.message_count or 0
            if count >= expected:
                break
            await asyncio.sleep(0.2)
        return count


async def delete_queues(amqp_url: str, prefix: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(f"{prefix}.bench-ready")
        await channel.queue_delete(f"{prefix}.bench-rest")
        await channel.exchange_delete(f"{prefix}.events")
        await channel.queue_delete(f"{prefix}.ingest")
        await channel.queue_delete(f"{prefix}.ingest.parked")
        for i in range(10):
            await channel.queue_delete(f"{prefix}.ingest.retry.{i}")


async def bind_ready_queue(amqp_url: str, prefix: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{prefix}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(f"{prefix}.bench-ready", durable=True)
        await queue.bind(exchange, "order.ready")
        # What the other services would take (order.units_held, connection.changed): a message
        # that reaches no queue comes back unroutable and its outbox row is sent again and again.
        rest = await channel.declare_queue(f"{prefix}.bench-rest", durable=True)
        await rest.bind(exchange, "#")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores so far (Linux /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def stored_count(data_dir: Path, outcome: str = "accepted") -> int:
    with contextlib.closing(sqlite3.connect(data_dir / "ingest.db")) as db:
        query = "SELECT count(*) FROM deliveries WHERE outcome = ?"
        return int(db.execute(query, (outcome,)).fetchone()[0])


def single_figures(
    args: argparse.Namespace,
    data_dir: Path,
    processes: list[subprocess.Popen[bytes]],
    start: Callable[[str], subprocess.Popen[bytes]],
) -> int:
    """One at a time on the idle stack, then while the worker drains a backlog; returns how
    many webhooks it sent."""
    port = args.port
    idle = [request_bytes(port, b) for b in make_bodies(args.single, first_id=7_000_000_000)]
    latencies, statuses = asyncio.run(one_at_a_time(port, idle))
    report_single("one at a time, idle", latencies, statuses)

    # The backlog: posted while the worker is stopped, so it is all waiting when it starts.
    worker = processes.pop()
    worker.terminate()
    worker.wait(timeout=30)
    backlog = [request_bytes(port, b) for b in make_bodies(args.backlog, 6_000_000_000)]
    asyncio.run(load(port, backlog, args.connections))
    processes.append(start("worker"))
    waiting_at_start = stored_count(data_dir, "received")
    probes = [request_bytes(port, b) for b in make_bodies(args.backlog, 5_000_000_000)]
    latencies, statuses = asyncio.run(
        one_at_a_time(port, probes, until=lambda: stored_count(data_dir, "received") == 0)
    )
    report_single("one at a time, busy", latencies, statuses)
    print(
        f"{'':<28} while the worker applied a backlog of {waiting_at_start} deliveries "
        f"({stored_count(data_dir, 'received')} still waiting at the end)"
    )
    return len(idle) + len(backlog) + len(latencies)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--web", type=int, default=1, help="web processes (0: one `all` process)")
    parser.add_argument(
        "--port", type=int, default=18001, help="ingest's port (the worker takes the next one)"
    )
    parser.add_argument("--bare-port", type=int, default=18099)
    parser.add_argument("--skip-bare", action="store_true", help="only the ingest figures")
    parser.add_argument(
        "--single", type=int, default=300, help="webhooks sent one at a time on an idle stack"
    )
    parser.add_argument(
        "--backlog", type=int, default=3000, help="deliveries the worker finds waiting"
    )
    args = parser.parse_args()
    amqp_url = os.environ.get("LEDGERBRIDGE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    ingest_port, bare_port = args.port, args.bare_port
    bodies = make_bodies(args.requests)
    warmup = [request_bytes(ingest_port, b) for b in make_bodies(200, first_id=8_000_000_000)]
    print(
        f"{args.requests} webhooks of {len(bodies[0]) / 1024:.1f} kB, {args.connections} connections, "
        f"{os.cpu_count()} cores"
    )

    asyncio.run(bind_ready_queue(amqp_url, prefix))
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ, "LEDGERBRIDGE_DATA_DIR": tmp, "LEDGERBRIDGE_BROKER_PREFIX": prefix,
            "LEDGERBRIDGE_INGEST_PORT": str(ingest_port), "LEDGERBRIDGE_DEMO_SHOPIFY_SECRET": SECRET,
            "LEDGERBRIDGE_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        roles = ["web"] * args.web + ["worker"] if args.web else ["all"]

        def start(role: str) -> subprocess.Popen[bytes]:
            port = ingest_port if role != "worker" else ingest_port + 1
            role_env = {**env, "LEDGERBRIDGE_ROLE": role, "LEDGERBRIDGE_INGEST_PORT": str(port)}
            process = subprocess.Popen([sys.executable, "-m", "lb_ingest"], env=role_env, cwd=ROOT)
            wait_port(port, "/healthz")  # one by one: each migrates the database at start
            return process

        processes = []
        sent = len(warmup) + args.requests
        try:
            processes = [start(role) for role in roles]
            asyncio.run(load(ingest_port, warmup, args.connections))
            requests = [request_bytes(ingest_port, b) for b in bodies]
            pids = [p.pid for p in processes]
            cpu_before, busy_before = [cpu_seconds([pid]) for pid in pids], machine_busy()
            seconds, latencies, statuses = asyncio.run(
                load(ingest_port, requests, args.connections)
            )
            cpu_after, busy_after = [cpu_seconds([pid]) for pid in pids], machine_busy()
            ingest_rate = report(f"ingest ({' + '.join(roles)})", seconds, latencies, statuses)
            busy = (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1])
            per_webhook = [
                f"{role} {1000 * (after - before) / len(requests):.2f}"
                for role, before, after in zip(roles, cpu_before, cpu_after, strict=True)
            ]
            print(
                f"{'':<28} ingest CPU ms per webhook: {', '.join(per_webhook)}; "
                f"machine {busy:.0%} busy"
            )
            # The worker may lag behind the web process on a busy machine: give it time.
            emitted = asyncio.run(count_ready(amqp_url, prefix, sent, timeout=300))
            stored = stored_count(Path(tmp))
            print(
                f"stored {stored - len(warmup)}/{args.requests} deliveries, emitted "
                f"{emitted - len(warmup)}/{args.requests} order.ready"
            )
            if args.single and args.web:
                sent += single_figures(args, Path(tmp), processes, start)
                emitted = asyncio.run(count_ready(amqp_url, prefix, sent))
                stored = stored_count(Path(tmp))
                print(f"in all: stored {stored}/{sent} deliveries, emitted {emitted} order.ready")
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
            asyncio.run(delete_queues(amqp_url, prefix))

    if args.skip_bare:
        return
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bare_app.py").write_text(BARE_APP)
        bare = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port),
             "--log-level", "warning", "--no-access-log"], cwd=tmp,
        )  # fmt: skip
        try:
            wait_port(bare_port, "/docs")
            asyncio.run(
                load(
                    bare_port, [request_bytes(bare_port, b) for b in bodies[:200]], args.connections
                )
            )
            requests = [request_bytes(bare_port, b) for b in bodies]
            seconds, latencies, statuses = asyncio.run(load(bare_port, requests, args.connections))
            bare_rate = report("bare FastAPI (200 only)", seconds, latencies, statuses)
        finally:
            bare.terminate()
            bare.wait(timeout=10)
    print(f"ingest reaches {ingest_rate / bare_rate:.0%} of the bare endpoint's throughput")


if __name__ == "__main__":
    main()
