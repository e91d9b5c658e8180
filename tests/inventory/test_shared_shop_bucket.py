"""Several processes calling one shop share its GraphQL points bucket: each paces by its own
estimate and Shopify's figure, and the soft band lets them settle together below the bucket's
limit, where processes that pace alone run into THROTTLED (bench/shopify_shared_bucket.py runs
the same on a full standard-plan bucket)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

import httpx
import pytest
import uvicorn

from lb_connectors.shopify_admin import CostPacer, QuantityChange, ShopifyGraphQLClient
from lb_connectors.shopify_admin.cost import ROOM_FOR, ThrottleStatus
from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings

PROCESSES = 3
ROUNDS = 10  # about 70 points each: 2,100 points in all, 11 s of refill beyond the bucket
BUCKET = 1000.0  # standard plan's 100 points/s, a smaller bucket so the run is short


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _replica(base: str, token: str, band: bool, items: list[str], location: str, at: float) -> int:
    return asyncio.run(_load(base, token, band, items, location, at))


async def _load(
    base: str, token: str, band: bool, items: list[str], location: str, at: float
) -> int:
    """Read 20 levels and set 2, round after round, as fast as the pacer lets it: about 70
    points a round. Returns the calls that failed."""
    pacer = None if band else CostPacer(restore_rate=100, band_fraction=0)
    async with ShopifyGraphQLClient(base, token, pacer=pacer, max_throttled=100) as shop:
        await asyncio.sleep(max(0.0, at - time.time()))
        for _ in range(ROUNDS):
            found = await shop.levels(items, location)
            await shop.set_quantities(
                [QuantityChange(i, location, (found[i] or 0) + 1, found[i]) for i in items[:2]]
            )
        return shop.stats.failed


async def _run(port: int, band: bool) -> dict[str, Any]:
    token = f"shop-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as sandbox:
        seeded = await sandbox.post(
            f"/_sandbox/shopify/{token}/products",
            json=[
                {"title": f"P{i}", "variants": [{"sku": f"P-{i}", "available": 5}]}
                for i in range(PROCESSES * 20)
            ],
        )
        items = [str(p["variants"][0]["inventory_item_id"]) for p in seeded.json()["products"]]
        levels = (await sandbox.get(f"/_sandbox/shopify/{token}/levels")).json()
        location = str(levels["inventory_levels"][0]["location_id"])
        base, at = f"http://127.0.0.1:{port}/shopify", time.time() + 3
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(PROCESSES, mp_context=get_context("spawn")) as pool:
            failed = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        pool, _replica, base, token, band, items[n * 20 : n * 20 + 20], location, at
                    )
                    for n in range(PROCESSES)
                )
            )
        meter = (await sandbox.get(f"/_sandbox/shopify/{token}/points")).json()
    return {**meter, "failed": sum(failed)}


async def test_processes_on_one_shop_stay_within_its_bucket() -> None:
    port = _free_port()
    app = create_app(SandboxSettings(port=port, shopify_points_bucket=BUCKET))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(1000):
            if server.started:
                break
            await asyncio.sleep(0.01)
        alone = await _run(port, band=False)
        shared = await _run(port, band=True)
    finally:
        server.should_exit = True
        await serving
    # Both runs asked for more than the bucket holds, and every call got through.
    for run in (alone, shared):
        assert run["pointsSpent"] > 1.5 * BUCKET
        assert run["failed"] == 0
    # Pacing alone, each process expects the refill for itself: the shop refuses queries.
    assert alone["throttled"] > 0
    # Pacing in the soft band, the processes stay within the bucket: nothing refused.
    assert shared["throttled"] == 0


def _wait_at(available: float, cost: float, band_fraction: float = 0.5) -> float:
    """A fresh pacer told by Shopify that `available` of 2,000 points are left: its wait
    before a call of `cost` points."""
    pacer = CostPacer(
        restore_rate=100, maximum_available=2000, band_fraction=band_fraction, clock=lambda: 0.0
    )
    pacer.observe(ThrottleStatus(2000, available, 100), reserved=0)
    return pacer.delay_for(cost)


def test_the_pacer_slows_down_in_the_lower_half_of_the_bucket() -> None:
    refill = 10 / 100  # a 10-point call's refill time at 100 points/s
    assert _wait_at(2000, 10) == 0 and _wait_at(1010, 10) == 0  # above the band: at once
    # 500 left after the call: half way into the band; at the bottom, room for 8 processes.
    assert _wait_at(510, 10) == pytest.approx(0.5 * ROOM_FOR * refill)
    assert _wait_at(10, 10) == pytest.approx(ROOM_FOR * refill)
    # A call large beside the band waits at most until the band would be full again.
    assert _wait_at(1000, 400) == pytest.approx(400 / 100)
    # Without the band (each process on its own, as before), only a call that does not fit waits.
    assert _wait_at(15, 10, band_fraction=0) == 0
    assert _wait_at(5, 10, band_fraction=0) == pytest.approx(5 / 100)
