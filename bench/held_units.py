"""Benchmark: what inventory's sum of held units costs while a backlog of orders holds them.

    .venv/bin/python bench/held_units.py [--orders 100000] [--skus 20]

Every order ingest accepted holds its units in inventory until its invoice is booked, so a
backlog of 100,000 orders is 100,000 open rows in `held_orders`; `held_per_sku` sums them after
every booked batch, for the stock view, shop reports and syncs. Writes `--orders` open orders
(one or two SKUs each, as bench/e2e.py's orders) into a fresh SQLite file, then sums them three
times and prints the seconds per sum, then the most memory one sum allocated on top of what was
in use before (tracemalloc, a fourth sum).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import tracemalloc
from pathlib import Path

from sqlalchemy import insert

from lb_common.db import Database, utcnow
from lb_inventory.holds import held_per_sku
from lb_inventory.store import HeldOrder


async def bench(orders: int, skus: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ledgerbridge-held-") as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'inventory.db'}")
        await db.create_tables([HeldOrder])
        now = utcnow()
        rows = [
            {
                "connection": "demo",
                "order_key": f"shopify:bench:{n}",
                "version": now,
                "units": {f"BENCH-{n % skus:03d}": "1", f"BENCH-{(n + 7) % skus:03d}": "2"},
                "updated_at": now,
            }
            for n in range(orders)
        ]
        async with db.transaction() as session:
            for start in range(0, orders, 10_000):
                await session.exec(insert(HeldOrder).values(rows[start : start + 10_000]))  # type: ignore[call-overload]
        del rows
        for attempt in range(3):
            started = time.perf_counter()
            async with db.session() as session:
                held = await held_per_sku(session, "demo")
            seconds = time.perf_counter() - started
            print(
                f"sum {attempt + 1}: {orders:,} open orders, {len(held)} SKUs, "
                f"{sum(held.values()):,} units: {seconds:.2f} s"
            )
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        async with db.session() as session:
            await held_per_sku(session, "demo")
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        print(f"memory one sum allocated at most (tracemalloc): {peak / 2**20:.1f} MiB")
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--skus", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(bench(args.orders, args.skus))


if __name__ == "__main__":
    main()
