"""Benchmark: orders through the whole in-process system while the sandbox ledger misbehaves.

The sandbox injects 10 % 5xx (503), 5 % 429 and 2 % lost replies (the write happens, the
answer is a 500) on every e-conomic call. The four services run in this process on the local
RabbitMQ with SQLite (tests/support/system.py) and the default retry settings. Prints how many
orders were booked, parked (failed) or still on their way, the e-conomic calls per order and
the time taken.

    .venv/bin/python bench/recovery_under_faults.py [--orders 100] [--timeout 300] [--no-faults]

Measured on the 2-core dev machine, 100 orders, with faults: before the recovery work 61
booked and 39 still retrying after 302 s (1,550 calls: 25 per booked order); after it, all 100
booked in 144 s (1,497 calls: 15.0 per order). Without faults: 100 in 20 s, 11.0 calls per
order; with only the 5xx and lost replies: 100 in 18 s, 12.5 per order. The rest is the 429s:
each one empties the agreement's bucket and its Retry-After (1 s) holds every call of the
agreement, as e-conomic's limit is per agreement.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prometheus_client import REGISTRY  # noqa: E402

from lb_common.settings import CommonSettings  # noqa: E402
from tests.support.broker import delete_prefix  # noqa: E402
from tests.support.system import running_system  # noqa: E402

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
FAULTS = (
    {"kind": "error", "status": 503, "rate": 0.10},
    {"kind": "rate_limit", "rate": 0.05},
    {"kind": "lost_reply", "rate": 0.02},
)


def economic_calls() -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "ledgerbridge_economic_calls":
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return total


def order_body(i: int) -> bytes:
    from tests.platforms.factories import shopify_json, shopify_order

    return shopify_json(
        shopify_order(
            lines=[{"sku": "MUG-BLACK", "title": "Mug", "quantity": 1, "price": "60.00"}],
            email=f"buyer{i}-{uuid.uuid4().hex[:6]}@example.com",
        )
    )


async def run(orders: int, timeout: float, faults: bool) -> None:
    # The production retry schedule, not the tests' short one.
    defaults = CommonSettings()
    overrides = {
        name: getattr(defaults, name) for name in CommonSettings.model_fields if "retry" in name
    }
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as data:
        try:
            async with running_system(
                AMQP_URL, prefix, Path(data), common_overrides=overrides
            ) as system:
                async with system.sandbox() as sandbox:
                    for spec in FAULTS if faults else ():
                        response = await sandbox.post(
                            "/_sandbox/faults", json={**spec, "agreement": system.grant}
                        )
                        response.raise_for_status()
                calls_before = economic_calls()
                started = time.monotonic()
                keys = []
                for i in range(orders):
                    response = await system.post_shopify("orders/paid", order_body(i))
                    response.raise_for_status()
                    keys.append(response.json()["order_key"])
                statuses: Counter[str] = Counter()
                while time.monotonic() - started < timeout:
                    statuses = Counter()
                    for key in keys:
                        statuses[(await system.order(key))["status"]] += 1
                    if statuses["booked"] + statuses["failed"] == orders:
                        break
                    await asyncio.sleep(2)
                elapsed = time.monotonic() - started
                calls = economic_calls() - calls_before
                print(
                    f"orders {orders}: booked {statuses['booked']}, parked {statuses['failed']}, "
                    f"unfinished {orders - statuses['booked'] - statuses['failed']} "
                    f"after {elapsed:.0f} s; e-conomic calls {calls:.0f} "
                    f"({calls / orders:.1f} per order, "
                    f"{calls / max(1, statuses['booked']):.1f} per booked order)"
                )
                print(f"statuses: {dict(statuses)}")
        finally:
            await delete_prefix(AMQP_URL, prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--no-faults", action="store_true", help="the same run, no faults")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)
    asyncio.run(run(args.orders, args.timeout, not args.no_faults))


if __name__ == "__main__":
    main()
