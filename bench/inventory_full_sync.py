"""Benchmark: a full stock sync of 10,000 SKUs against the sandbox, with pacing on.

Seeds the sandbox's e-conomic agreement and Shopify shop with the same SKUs (levels equal except
`--changed` of them), then runs the inventory service's real `full_sync` twice: the first sync
(links built, every level compared, the differing ones set), and a steady-state sync after
`--receipts` goods receipts in the ledger. Prints the time, the calls made to each API, the
Shopify points used (calculated query cost), and how many calls were throttled or failed.

    .venv/bin/python bench/inventory_full_sync.py [--skus 10000] [--changed 100] [--receipts 50]
        [--plan standard|advanced|plus]

The shop is read by one bulk operation and written with inventorySetQuantities (250 quantities
a call, compare-and-set), through Shopify's GraphQL Admin API as the sandbox emulates it: the
plan's points bucket (standard 100 points/s, advanced 200, plus 1,000; 20 s deep). e-conomic's
limit is the sandbox default (10,000 tokens/min, 3 a call). Runs in-process (sandbox over
httpx's ASGI transport, SQLite in a temp dir), no broker needed.

Before: with the REST Admin API (products and inventory_levels paged, one set.json call per
changed level, 2 calls/s on a standard plan) the first 10,000-SKU sync took 156 s.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from lb_common.db import Database
from lb_common.leases import Lease
from lb_connectors.economic.client import EconomicClient
from lb_connectors.shopify_admin import ShopifyGraphQLClient
from lb_inventory.policy import StockSyncSettings
from lb_inventory.store import TABLES
from lb_inventory.sync import SyncLocks, full_sync
from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings

PLANS = ("standard", "advanced", "plus")
REST_FIRST_SYNC_SECONDS = 156  # the same run over the REST Admin API, standard plan
GRANT, SHOP = "bench-grant", "bench-shop"


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts every call by API, method and status on its way to the sandbox."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: Counter[tuple[str, str, int]] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        path = request.url.path
        api = "e-conomic" if path.startswith("/economic") else "shopify"
        if path.startswith("/_sandbox"):
            api = "sandbox-admin"
        self.calls[(api, request.method, response.status_code)] += 1
        return response

    def summary(self) -> dict[str, Any]:
        by_api: dict[str, Any] = {}
        for (api, _method, status), n in self.calls.items():
            if api == "sandbox-admin":
                continue
            entry = by_api.setdefault(api, {"calls": 0, "errors": 0})
            entry["calls"] += n
            if status >= 400:
                entry["errors"] += n
        return by_api


async def seed(admin: httpx.AsyncClient, skus: int, changed: int) -> None:
    headers = {"X-AppSecretToken": "bench-app", "X-AgreementGrantToken": GRANT}
    await admin.get("/economic/products", headers=headers)  # the agreement, with its seed
    ledger = [
        {"number": f"SKU-{i:05d}", "name": f"Product {i}", "stock": i % 97} for i in range(skus)
    ]
    for start in range(0, skus, 2000):
        r = await admin.post(
            f"/_sandbox/agreements/{GRANT}/products", json=ledger[start : start + 2000]
        )
        r.raise_for_status()
    step = max(1, skus // changed) if changed else skus + 1
    shop = [
        {
            "title": f"Product {i}",
            "variants": [
                {"sku": f"SKU-{i:05d}", "available": i % 97 + (1 if i % step == 0 else 0)}
            ],
        }
        for i in range(skus)
    ]
    for start in range(0, skus, 2000):
        r = await admin.post(f"/_sandbox/shopify/{SHOP}/products", json=shop[start : start + 2000])
        r.raise_for_status()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--receipts", type=int, default=50)
    parser.add_argument("--plan", choices=PLANS, default="standard")
    args = parser.parse_args()

    app = create_app(SandboxSettings(shopify_plan=args.plan))
    transport = CountingTransport(httpx.ASGITransport(app=app))
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'inventory.db'}")
        await db.create_tables([*TABLES, Lease])
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://sandbox") as admin,
            EconomicClient(
                "http://sandbox/economic", "bench-app", GRANT, transport=transport
            ) as ledger,
            ShopifyGraphQLClient(
                "http://sandbox/shopify", SHOP, transport=transport, plan=args.plan
            ) as shop,
        ):
            await seed(admin, args.skus, args.changed)
            location = (await shop.list_locations())[0].legacy_resource_id
            settings = StockSyncSettings(enabled=True, location_id=location)
            locks = SyncLocks(db)
            rate = shop.pacer.restore_rate
            print(
                f"{args.skus:,} SKUs (+2 seeded), Shopify GraphQL Admin API, {args.plan} plan "
                f"({rate:g} points/s), pacing on"
            )
            for label, receipts in (("first sync", 0), ("steady state", args.receipts)):
                for i in range(receipts):
                    number = f"SKU-{(i * 37) % args.skus:05d}"
                    r = await admin.post(
                        f"/_sandbox/agreements/{GRANT}/products/{number}/receive",
                        json={"quantity": 5},
                    )
                    r.raise_for_status()
                transport.calls.clear()
                waited_before = shop.pacer.waited_seconds
                points_before = shop.points_used
                throttled_before = shop.stats.throttled
                failed_before = shop.stats.failed
                started = time.monotonic()
                result = await full_sync(
                    "bench", db=db, ledger=ledger, shop=shop, settings=settings, locks=locks
                )
                seconds = time.monotonic() - started
                calls = transport.summary()
                print(
                    f"{label:>12}: {seconds:7.1f} s  status={result.status} "
                    f"changed={result.changed} unchanged={result.unchanged} "
                    f"failed={result.failed} mismatches={result.mismatches}"
                )
                for api, c in sorted(calls.items()):
                    print(f"{'':>14}{api}: {c['calls']} calls, {c['errors']} errors")
                points = shop.points_used - points_before
                throttled = shop.stats.throttled - throttled_before
                failed = shop.stats.failed - failed_before
                waited = shop.pacer.waited_seconds - waited_before
                print(
                    f"{'':>14}shopify: {points:,.0f} points, {throttled} throttled, {failed} "
                    f"failed; pacer waited {waited:.1f} s"
                )
                if label == "first sync":
                    print(f"{'':>14}(REST Admin API, standard plan: {REST_FIRST_SYNC_SECONDS} s)")
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
