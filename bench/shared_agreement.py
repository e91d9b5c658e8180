"""Benchmark: six processes at full speed against one e-conomic agreement. Do they stay inside
the agreement's one budget together (almost no 429s) and park nothing?

    .venv/bin/python bench/shared_agreement.py [--orders 240] [--bucket 600/30] [--replicas 2]

Starts the scaled-out stack of `make chaos` (scripts/chaos_stack.py: PostgreSQL per service,
a RabbitMQ node of its own, or `--broker shared` the machine's): ingest, and `--replicas` processes each of
customers, invoicing and inventory (2: six processes calling the ledger), all booking into the
sandbox's agreement `demo`. The agreement's token bucket is made small (`--bucket`
tokens/seconds, 3 tokens a call as e-conomic's `X-CallCost`) so that the six processes at full
speed need far more than it allows: e-conomic's own bucket is 10,000 tokens per 60 s, i.e.
55 calls/s; `--bucket 600/30` allows 6.7 calls/s after a burst of 200 calls.

Every order is posted at once (as fast as ingest takes them), each from a new buyer. When all
are booked (or `--timeout` passes) it prints: orders booked, wall time, e-conomic calls (the
sandbox's count, refusals included) and calls/s against the bucket's sustainable rate, 429
answers the six processes received (their `ledgerbridge_economic_calls_total{status="429"}`),
messages sent to a retry queue because of the rate limit, and parked messages per service.

Pacing: each process paces from the agreement's own `X-RateLimiting` figure
(lb_connectors/economic/ratelimit.py), which every process's calls move, in a soft band over the
upper half of the bucket with room for 8 processes (lb_connectors/shared_budget.py), so together
they slow down before the bucket is empty.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from scripts.chaos_stack import Broker, Stack, create_databases, drop_databases, say  # noqa: E402
from scripts.demo import danish_order  # noqa: E402

SERVICES = ("ingest", "customers", "invoicing", "inventory")
SECRET, SHOP, GRANT = "demo-secret", "ledgerbridge-demo.myshopify.com", "demo"
CONCURRENCY = 16
CALL_COST = 3
_SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} ([0-9.e+]+)$", re.M)


def order(index: int) -> bytes:
    order_id = 9_000_000 + index
    sku, title = ("MUG-BLACK", "Mug black") if index % 2 else ("TSHIRT-RED-M", "T-shirt red M")
    body = danish_order(
        order_id, 30_000 + index, f"shared-{index}@example.com", "Shared", f"Buyer {index}",
        [(sku, title, 1, "125.00")],
    )  # fmt: skip
    return json.dumps(body, separators=(",", ":")).encode()


def signed(body: bytes) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-API-Version": "2025-01",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
    }


def metric_sum(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for metric, label_text, value in _SAMPLE.findall(text):
        if metric != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total


async def post_all(http: httpx.AsyncClient, ingest: str, count: int) -> list[str]:
    keys: list[str] = [""] * count
    gate = asyncio.Semaphore(CONCURRENCY)

    async def post(i: int) -> None:
        body = order(i)
        async with gate:
            problem = ""
            for _ in range(20):  # a busy machine drops a connection now and then: post again
                try:
                    answer = await http.post(
                        f"{ingest}/webhooks/shopify/demo", content=body, headers=signed(body)
                    )
                except httpx.TransportError as exc:
                    problem = repr(exc)
                else:
                    if answer.status_code == 200:
                        keys[i] = answer.json()["order_key"]
                        return
                    problem = f"{answer.status_code} {answer.text}"
                await asyncio.sleep(0.5)
            raise SystemExit(f"ingest did not take order {i}: {problem}")

    await asyncio.gather(*(post(i) for i in range(count)))
    return keys


async def booked_count(http: httpx.AsyncClient, ingest: str) -> int:
    answer = await http.get(f"{ingest}/orders", params={"status": "booked", "limit": 1})
    answer.raise_for_status()
    return int(answer.json()["total"])


async def bench(stack: Stack, args: argparse.Namespace) -> int:
    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {stack.admin_token}"}, timeout=30)
    ingest = stack.of("ingest")[0].url
    sandbox = stack.sandbox.url
    callers = [p for p in stack.procs if p.service in ("customers", "invoicing", "inventory")]
    try:
        await http.delete(f"{sandbox}/_sandbox/agreements/{GRANT}/calls")
        started = time.monotonic()
        keys = await post_all(http, ingest, args.orders)
        posted = time.monotonic() - started
        say(f"{len(keys)} orders posted in {posted:.1f} s; waiting until they are booked")
        booked = 0
        while time.monotonic() - started < args.timeout:
            booked = await booked_count(http, ingest)
            if booked >= len(keys):
                break
            await asyncio.sleep(1.0)
        seconds = time.monotonic() - started
        calls = (await http.get(f"{sandbox}/_sandbox/agreements/{GRANT}/calls")).json()["total"]
        refused = made = retried = 0.0
        for proc in callers:
            text = (await http.get(f"{proc.url}/metrics")).text
            made += metric_sum(text, "ledgerbridge_economic_calls_total")
            refused += metric_sum(text, "ledgerbridge_economic_calls_total", status="429")
            retried += metric_sum(text, "ledgerbridge_message_retries_total", cause="rate_limited")
        parked: dict[str, int] = {}
        for service in ("customers", "invoicing", "inventory"):
            answer = await http.get(f"{stack.of(service)[0].url}/parked", params={"limit": 1000})
            parked[service] = len(answer.json())
    finally:
        await http.aclose()
    tokens, window = args.tokens, args.window
    sustainable = tokens / window / CALL_COST
    print()
    print(f"processes calling the agreement: {len(callers)} "
          f"({', '.join(p.name for p in callers)})")  # fmt: skip
    print(f"agreement bucket: {tokens} tokens per {window:g} s, {CALL_COST} a call: "
          f"{sustainable:.1f} calls/s sustained, {tokens // CALL_COST} calls of burst")  # fmt: skip
    print(f"orders booked: {booked} of {len(keys)} in {seconds:.1f} s "
          f"({booked / seconds:.2f} orders/s)")  # fmt: skip
    print(f"e-conomic calls answered by the sandbox: {calls} ({calls / seconds:.1f} calls/s; "
          f"{calls / max(booked, 1):.1f} per order)")  # fmt: skip
    print(f"429 answers received: {refused:.0f} of {made:.0f} calls "
          f"({100 * refused / max(made, 1):.2f} %)")  # fmt: skip
    print(f"messages sent to a retry queue for the rate limit: {retried:.0f}")
    print("parked messages: " + ", ".join(f"{s} {n}" for s, n in parked.items()))
    ok = booked == len(keys) and not any(parked.values())
    say("all booked, nothing parked" if ok else "NOT all booked, or something parked")
    return 0 if ok else 1


async def main_async(args: argparse.Namespace) -> int:
    run = f"shared{uuid.uuid4().hex[:6]}"
    folder = ROOT / "data" / "bench" / run
    folder.mkdir(parents=True, exist_ok=True)
    # A RabbitMQ node of the run's own (as `make chaos`): the machine's is shared with others.
    broker = Broker.private(run, folder) if args.broker == "private" else Broker.shared()
    names = [f"chaos_{run}_{service}" for service in SERVICES]
    stack = Stack(run, folder, broker, secrets.token_urlsafe(18), f"bench{run}")
    try:
        await asyncio.to_thread(broker.start)
        urls = await create_databases(names)
        stack.database_names = names
        stack.build(
            replicas=args.replicas,
            inventory_replicas=args.replicas,
            database_urls={s: urls[f"chaos_{run}_{s}"] for s in SERVICES},
            grant=GRANT,
        )
        for proc in stack.procs:  # the small bucket, and nothing else changed
            proc.env["LEDGERBRIDGE_SANDBOX_RATE_LIMIT_TOKENS"] = str(args.tokens)
            proc.env["LEDGERBRIDGE_SANDBOX_RATE_LIMIT_WINDOW_SECONDS"] = str(args.window)
            # The shop is not what is measured: no webhook subscription checks.
            proc.env.setdefault("LEDGERBRIDGE_INGEST_WEBHOOK_SUBSCRIPTIONS_CHECK_SECONDS", "0")
        await asyncio.to_thread(stack.start)
        say("stack ready: " + ", ".join(f"{p.name}:{p.port}" for p in stack.procs))
        return await bench(stack, args)
    finally:
        await asyncio.to_thread(stack.stop)
        await asyncio.to_thread(broker.stop)
        if stack.database_names:
            await drop_databases(stack.database_names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=240)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--bucket", default="600/30", help="tokens/seconds of the agreement")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--broker", choices=("private", "shared"), default="private")
    args = parser.parse_args()
    tokens, window = args.bucket.split("/")
    args.tokens, args.window = int(tokens), float(window)
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
