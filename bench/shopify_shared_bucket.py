"""Benchmark: several processes calling one shop share its GraphQL points bucket.

Starts the sandbox (`python -m lb_sandbox`, a real HTTP server) and `--processes` worker
processes, each with its own ShopifyGraphQLClient against the same shop, as replicas of a
service are. Each worker reads the levels of `--items` inventory items (3 points an item) and
sets a few of them by compare-and-set (a 10-point mutation), again and again for `--seconds`:
together they ask for far more than the plan's restore rate, so the bucket decides.

Runs the same load twice, on a fresh shop each time:
- `alone`: each process paces by its own estimate only (no soft band), as before;
- `shared`: the default pacer (the soft band of `lb_connectors/shared_budget.py`).
Prints, per run, the points the shop's bucket kept and their rate beside the restore rate, the
THROTTLED answers the sandbox gave (the bucket refused a query), the calls that failed (an error
raised to the caller) and the slowest call.

    .venv/bin/python bench/shopify_shared_bucket.py [--processes 4] [--seconds 20]
        [--items 50] [--plan standard]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

import httpx

from lb_connectors.shopify_admin import CostPacer, QuantityChange, ShopifyGraphQLClient
from lb_connectors.shopify_admin.cost import RESTORE_RATES

SKUS_PER_WORKER = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def worker(
    base: str,
    token: str,
    plan: str,
    band: bool,
    items: list[str],
    location: str,
    start_at: float,
    seconds: float,
    reads: int,
) -> dict[str, Any]:
    return asyncio.run(_work(base, token, plan, band, items, location, start_at, seconds, reads))


async def _work(
    base: str,
    token: str,
    plan: str,
    band: bool,
    items: list[str],
    location: str,
    start_at: float,
    seconds: float,
    reads: int,
) -> dict[str, Any]:
    pacer = None if band else CostPacer(restore_rate=RESTORE_RATES[plan], band_fraction=0)
    async with ShopifyGraphQLClient(base, token, plan=plan, pacer=pacer, max_throttled=60) as shop:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        began = time.time()
        deadline = time.monotonic() + seconds
        slowest = failed = rounds = 0.0
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                found = await shop.levels(items[:reads], location)
                changes = [
                    QuantityChange(item, location, (found[item] or 0) + 1, change_from=found[item])
                    for item in items[:3]
                ]
                await shop.set_quantities(changes)
            except Exception:  # counted: a failure is what the bench is looking for
                failed += 1
            slowest = max(slowest, time.monotonic() - started)
            rounds += 1
        return {
            "calls": shop.stats.calls,
            "throttled": shop.stats.throttled,
            "failed": shop.stats.failed,
            "rounds": rounds,
            "slowest": slowest,
            "waited": shop.pacer.waited_seconds,
            "began": began,
            "ended": time.time(),
        }


async def seed(admin: httpx.AsyncClient, token: str, workers: int) -> tuple[list[list[str]], str]:
    """Each worker gets its own items (compare-and-set on shared ones would go stale)."""
    products = [
        {"title": f"Bench {i}", "variants": [{"sku": f"BENCH-{i:04d}", "available": 10}]}
        for i in range(workers * SKUS_PER_WORKER)
    ]
    r = await admin.post(f"/_sandbox/shopify/{token}/products", json=products)
    r.raise_for_status()
    levels = (await admin.get(f"/_sandbox/shopify/{token}/levels")).json()["inventory_levels"]
    location = str(levels[0]["location_id"])
    by_sku = {
        v["sku"]: str(v["inventory_item_id"]) for p in r.json()["products"] for v in p["variants"]
    }
    items = [
        [by_sku[f"BENCH-{w * SKUS_PER_WORKER + i:04d}"] for i in range(SKUS_PER_WORKER)]
        for w in range(workers)
    ]
    return items, location


async def run(args: argparse.Namespace, port: int, band: bool) -> None:
    token = f"bench-{uuid.uuid4().hex[:8]}"
    base = f"http://127.0.0.1:{port}/shopify"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as admin:
        items, location = await seed(admin, token, args.processes)
        start_at = time.time() + 3.0  # every worker imported and connected before the start
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(args.processes, mp_context=get_context("spawn")) as pool:
            results = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        pool,
                        worker,
                        base,
                        token,
                        args.plan,
                        band,
                        items[w],
                        location,
                        start_at,
                        args.seconds,
                        args.items,
                    )
                    for w in range(args.processes)
                )
            )
        meter = (await admin.get(f"/_sandbox/shopify/{token}/points")).json()
        # From the first worker's start (a busy machine starts some late) to the last one's
        # end (the last rounds end after the deadline).
        elapsed = max(r["ended"] for r in results) - min(r["began"] for r in results)
    rate = meter["restoreRate"]
    bucket = meter["maximumAvailable"]
    spent = meter["pointsSpent"]
    label = "shared" if band else "alone"
    print(
        f"{label:>7}: {spent:,.0f} points kept in {elapsed:.1f} s (the bucket gives at most "
        f"{bucket:,.0f} + {rate:g}/s x {elapsed:.1f} s = {bucket + rate * elapsed:,.0f}); "
        f"THROTTLED answers {meter['throttled']}, failed calls "
        f"{sum(r['failed'] for r in results):.0f}; "
        f"{sum(r['calls'] for r in results)} calls, "
        f"{sum(r['rounds'] for r in results):.0f} rounds, slowest round "
        f"{max(r['slowest'] for r in results):.1f} s"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--items", type=int, default=50, help="levels read per round")
    parser.add_argument("--plan", choices=tuple(RESTORE_RATES), default="standard")
    args = parser.parse_args()
    port = free_port()
    env = {
        **os.environ,
        "LEDGERBRIDGE_SANDBOX_PORT": str(port),
        "LEDGERBRIDGE_SANDBOX_SHOPIFY_PLAN": args.plan,
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lb_sandbox",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(300):
                try:
                    await probe.get(f"http://127.0.0.1:{port}/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        rate = RESTORE_RATES[args.plan]
        print(
            f"{args.processes} processes on one shop, {args.plan} plan ({rate:g} points/s, "
            f"{rate * 20:,.0f}-point bucket), each reading {args.items} levels and setting 3 "
            "per round"
        )
        for band in (False, True):
            await run(args, port, band)
    finally:
        server.terminate()
        await server.wait()


if __name__ == "__main__":
    asyncio.run(main())
