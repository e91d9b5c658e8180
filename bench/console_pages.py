"""Benchmark: the console's order list and overview with 100,000 orders in the store.

    .venv/bin/python bench/console_pages.py [--orders 100000] [--rounds 20]
        [--data-dir DIR [--measure-only]]

Seeds ingest's store through its own door: signed Shopify webhooks, 32 at a time, posted to
ingest's app in this process (SQLite in the data dir). Then starts the four services, the
sandbox and the console as separate processes the way `make up` does (scripts/stack.py; own
broker prefix, ports 182xx so a running `make up` is left alone). Of every 200 orders, 1 is paid (sent through customers and
invoicing to a booked invoice, or, 1 in 5 of them, failed on a SKU the ledger does not know),
1 is cancelled, and the rest are created unpaid (`waiting` for the connection's `paid`
trigger), so the store holds the mix of a shop whose orders mostly sit still: every status the
overview counts, and failed orders for its "needs attention" list.

Then it logs in to the console and times each page (`--rounds` sequential requests after two
warm-ups, printed as p50 / p95 / max in ms): the order list unfiltered, by status, by text, a
deep page, and the overview. `--data-dir DIR` keeps the seeded data there; with
`--measure-only` a later run measures the same data again without seeding (after a change).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from demo import danish_order  # noqa: E402
from stack import PROCESSES, Stack, delete_broker_objects, say  # noqa: E402

SECRET = "bench-secret"
SHOP = "bench-console.myshopify.com"
GRANT = "demo"
PORT_BASE = 18200  # sandbox 18200, ingest 18201, ... console 18205
PRODUCTS = [f"BENCH-{i:03d}" for i in range(20)]
CONCURRENCY = 32
FIRST_ID = 7_000_000_000


def order_webhook(i: int) -> tuple[str, bytes]:
    """The i-th seeded order: (topic, body)."""
    order_id = FIRST_ID + i
    kind = i % 200
    sku = "NOT-IN-LEDGER" if kind == 0 and i % 1000 == 0 else PRODUCTS[i % len(PRODUCTS)]
    body = danish_order(
        order_id, 100_000 + i, f"buyer{i % 20_000}@example.com", "Bench", f"Buyer {i % 20_000}",
        [(sku, f"Bench product {sku}", 1 + i % 3, "125.00")],
    )  # fmt: skip
    if kind == 0:
        topic = "orders/paid"
    elif kind == 1:
        topic = "orders/cancelled"
        body.update(financial_status="voided", cancelled_at="2025-03-01T11:00:00+01:00",
                    cancel_reason="customer", updated_at="2025-03-01T11:00:00+01:00")  # fmt: skip
    else:
        topic = "orders/create"
        body.update(financial_status="pending")
    return topic, json.dumps(body, separators=(",", ":")).encode()


def headers(topic: str, body: bytes) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-API-Version": "2025-01",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
    }


async def seed(stack: Stack, count: int) -> None:
    """Post the webhooks to an ingest of this process (its real app over an ASGI transport, the
    same code from the request on, without the network stack) before the stack starts: on a busy
    2-core machine real HTTP ran at about 12 webhooks/s. Its outbox rows (the paid orders'
    order.ready) are published by the stack's ingest once the other services' queues exist."""
    os.environ.update(stack.env)
    from lb_common.runtime import ServiceRuntime
    from lb_ingest.bootstrap import bootstrap

    runtime = ServiceRuntime(bootstrap())
    await runtime.start()
    transport = httpx.ASGITransport(app=runtime.parts.app_factory())
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(count):
                queue.put_nowait(i)

            async def poster() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    topic, body = order_webhook(i)
                    response = await http.post(
                        "/webhooks/shopify/demo", content=body, headers=headers(topic, body)
                    )
                    if response.status_code != 200:
                        raise SystemExit(f"ingest answered {response.status_code}: {response.text}")
                    if (i + 1) % 10_000 == 0:
                        rate = (i + 1) / (time.monotonic() - started)
                        say(f"{i + 1:,} webhooks accepted ({rate:,.0f}/s)")

            await asyncio.gather(*(poster() for _ in range(CONCURRENCY)))
    finally:
        await runtime.stop()
    say(f"{count:,} webhooks accepted in {time.monotonic() - started:,.0f} s")


async def fill(stack: Stack, target: int) -> None:
    """Copy the orders the webhooks made (and their timelines) under new order keys until the
    store holds `target` orders, received over the last 90 days: 100,000 webhooks through the
    request path would take hours on a busy 2-core machine. Rows only: the copies' raw
    deliveries are not copied (14 kB each; the order list and overview never read them)."""
    from sqlalchemy import func, insert, select

    from lb_common.db import Database
    from lb_ingest.store import OrderRecord, TimelineEntry

    orders = OrderRecord.__table__  # type: ignore[attr-defined]
    timeline = TimelineEntry.__table__  # type: ignore[attr-defined]
    db = Database(f"sqlite+aiosqlite:///{stack.data_dir / 'ingest.db'}")
    started = time.monotonic()
    try:
        async with db.session() as session:
            conn = await session.connection()
            originals = [dict(r._mapping) for r in await conn.execute(select(orders))]
            entries: dict[str, list[dict[str, Any]]] = {}
            for r in await conn.execute(select(timeline)):
                row = dict(r._mapping)
                row.pop("id")
                entries.setdefault(row["order_key"], []).append(row)
        copies = -(-(target - len(originals)) // len(originals))
        now = datetime.now(UTC)
        made = len(originals)
        for n in range(1, copies + 1):
            new_orders, new_entries = [], []
            for original in originals:
                if made >= target:
                    break
                made += 1
                key = f"{original['order_key']}-c{n}"
                shift = timedelta(seconds=(made * 7_776_000 // target))  # spread over 90 days
                received = now - shift
                new_orders.append({**original, "order_key": key,
                                   "order_id": f"{original['order_id']}-c{n}",
                                   "order_name": f"{original['order_name']}-c{n}",
                                   "received_at": received, "updated_at": received})  # fmt: skip
                for entry in entries.get(original["order_key"], []):
                    message_id = entry["message_id"]
                    new_entries.append({**entry, "order_key": key, "at": received,
                                        "message_id": f"{message_id}-c{n}" if message_id else None})  # fmt: skip
            async with db.transaction() as session:
                conn = await session.connection()
                if new_orders:
                    await conn.execute(insert(orders), new_orders)
                if new_entries:
                    await conn.execute(insert(timeline), new_entries)
        async with db.session() as session:
            conn = await session.connection()
            stored = (await conn.execute(select(func.count()).select_from(orders))).scalar_one()
    finally:
        await db.dispose()
    say(f"filled to {stored:,} orders by copying in {time.monotonic() - started:,.0f} s")


async def seed_ledger(stack: Stack) -> None:
    products = [{"number": n, "name": f"Bench product {n}", "price": "100.00",
                 "stock": "1000000"} for n in PRODUCTS]  # fmt: skip
    async with httpx.AsyncClient(timeout=60) as http:
        answer = await http.post(
            f"{stack.url('sandbox')}/_sandbox/agreements/{GRANT}/products", json=products
        )
        answer.raise_for_status()


async def settle(stack: Stack, count: int, timeout: float = 1800) -> dict[str, int]:
    """Wait until ingest has applied every delivery and the paid orders stopped moving."""
    token = {"Authorization": f"Bearer {stack.admin_token}"}
    moving = ("received", "transferred", "customer_resolved")
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=stack.url("ingest"), headers=token, timeout=60) as http:
        while True:
            counts = {}
            for status in ("received", "waiting", "cancelled", "transferred",
                           "customer_resolved", "booked", "failed"):  # fmt: skip
                answer = await http.get("/orders", params={"status": status, "limit": 1})
                counts[status] = answer.json()["total"]
            stored = (await http.get("/orders", params={"limit": 1})).json()["total"]
            if stored >= count and not any(counts[s] for s in moving):
                return {"stored": stored, **counts}
            if time.monotonic() > deadline:
                raise SystemExit(f"not settled after {timeout:.0f} s: {stored} stored, {counts}")
            await asyncio.sleep(5)


async def log_in(http: httpx.AsyncClient, token: str) -> None:
    page = await http.get("/login")
    login_token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert login_token, "no login form"
    answer = await http.post(
        "/login",
        data={"operator": "bench", "token": token, "login_token": login_token.group(1)},
    )
    assert answer.status_code in (200, 303), answer.text


async def measure(stack: Stack, rounds: int) -> None:
    pages = [
        ("orders, newest first", "/orders"),
        ("orders, status failed", "/orders?status=failed"),
        ("orders, status waiting", "/orders?status=waiting"),
        ("orders, e-mail buyer4242@example.com", "/orders?q=buyer4242%40example.com"),
        ("orders, number #104242", "/orders?q=%23104242"),
        ("orders, part of a text 'buyer4242'", "/orders?q=buyer4242"),
        ("orders, page 1,000 (offset 50,000)", "/orders?offset=50000"),
        ("overview", "/"),
    ]
    async with httpx.AsyncClient(base_url=stack.url("console"), timeout=120) as http:
        await log_in(http, stack.admin_token)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        say(f"page times over {rounds} requests each (ms): p50 / p95 / max; load average {load}")
        for name, path in pages:
            times = []
            for i in range(rounds + 2):
                started = time.perf_counter()
                response = await http.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, f"{path}: {response.status_code}"
                if i >= 2:  # two warm-ups
                    times.append(elapsed)
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            print(
                f"  {name:<40} {statistics.median(times):7.0f} {p95:7.0f} {times[-1]:7.0f}",
                flush=True,
            )


async def measure_calls(stack: Stack, rounds: int) -> None:
    """The admin calls behind the overview, each on its own."""
    token = {"Authorization": f"Bearer {stack.admin_token}"}
    today = datetime.now(UTC).date().isoformat()
    services = ("ingest", "customers", "invoicing", "inventory")
    calls = [
        ("ingest", f"/orders/counts?since={today}T00:00:00%2B00:00"),
        ("ingest", "/orders?needs_attention=true&limit=20"),
        ("ingest", "/connections"),
        *((service, "/parked?limit=1000") for service in services),
        *((service, f"/ledger-calls?day={today}") for service in services),
        ("ingest", "/reconciliations"),
        ("inventory", "/sync/runs?connection=demo&limit=1"),
    ]  # fmt: skip
    say("the overview's admin calls (ms): p50 / p95 / max")
    async with httpx.AsyncClient(headers=token, timeout=120) as http:
        for service, path in calls:
            times = []
            for i in range(rounds + 2):
                started = time.perf_counter()
                response = await http.get(stack.url(service) + path)
                assert response.status_code == 200, f"{service} {path}: {response.status_code}"
                if i >= 2:
                    times.append((time.perf_counter() - started) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            name = f"{service} {path}"
            print(
                f"  {name:<40} {statistics.median(times):7.0f} {p95:7.0f} {times[-1]:7.0f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--webhooks", type=int, default=2_000, help="orders made through the webhook path"
    )
    parser.add_argument("--data-dir", type=Path, help="keep the data here (default: a temp dir)")
    parser.add_argument("--measure-only", action="store_true", help="data dir seeded before")
    args = parser.parse_args()
    os.environ.setdefault("LEDGERBRIDGE_LOG_LEVEL", "WARNING")
    os.environ["LEDGERBRIDGE_DEMO_SHOPIFY_SECRET"] = SECRET
    for offset, (_, _, variable, _, _) in enumerate(PROCESSES):
        os.environ.setdefault(variable, str(PORT_BASE + offset))
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="ledgerbridge-console-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    if args.measure_only and not (data_dir / "ingest.db").exists():
        sys.exit(f"--measure-only: no seeded data in {data_dir}")
    stack = Stack.prepare(data_dir=data_dir, broker_prefix=f"bench-console-{uuid.uuid4().hex[:8]}")
    stack.env.pop("LEDGERBRIDGE_SANDBOX_STATE_FILE", None)  # the sandbox's ledger in memory
    say(f"{args.orders:,} orders, {os.cpu_count()} cores; data and logs in {data_dir}")
    webhooks = min(args.webhooks, args.orders)
    if not args.measure_only:
        asyncio.run(seed(stack, webhooks))
    for name, *_ in PROCESSES:
        stack.start_one(name)
    stack.wait_ready(timeout=300)  # slow to start on a loaded machine
    try:
        if not args.measure_only:
            asyncio.run(seed_ledger(stack))
            say("waiting for the paid orders to be booked (or fail)")
            asyncio.run(settle(stack, webhooks))
            # Copies of settled orders only: a copy of a moving order would never move.
            asyncio.run(fill(stack, args.orders))
        counts = asyncio.run(settle(stack, args.orders))
        say("orders by status: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        asyncio.run(measure(stack, args.rounds))
        asyncio.run(measure_calls(stack, args.rounds))
    finally:
        stack.stop()
        delete_broker_objects(stack)
    if args.data_dir is None:
        shutil.rmtree(data_dir)


if __name__ == "__main__":
    main()
