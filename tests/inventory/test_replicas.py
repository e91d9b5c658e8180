"""Two replicas of inventory on one database (SQLite file or PostgreSQL): one full sync of a
connection at a time, and one writer of its shop stock at a time, across replicas.

Replica B is the running service (consumers, admin API, scheduler). Replica A is a second
bootstrap of inventory on the same database whose admin API is used (its consumers stay idle, so
every message goes to B); A's shop network holds its first stock write until the test lets it
through, which keeps A's full sync in its push phase for as long as the test needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from lb_inventory.bootstrap import bootstrap as inventory_bootstrap
from lb_inventory.settings import InventorySettings
from tests.inventory.test_stock_sync import (
    enable_sync,
    item_of,
    mismatches,
    publish_shop_report,
    receive,
    shop_levels,
    sync,
)
from tests.support.stores import Store
from tests.support.system import ADMIN_TOKEN, System, running_system


class HeldStockWrite(httpx.AsyncBaseTransport):
    """The shop as replica A reaches it: its first stock write waits until `let_through`."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.waiting = asyncio.Event()
        self.let_through = asyncio.Event()
        self.calls: list[asyncio.Task[httpx.Response]] = []  # awaited at teardown

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/graphql.json") and b"inventorySetQuantities" in (
            await request.aread()
        ):
            self.waiting.set()
            await self.let_through.wait()
        return await self._inner.handle_async_request(request)


@pytest.fixture
async def replica_b(store: Store, amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path, "inventory") as running:
        yield running


@pytest.fixture
async def replica_a(
    replica_b: System, store: Store
) -> AsyncIterator[tuple[httpx.AsyncClient, HeldStockWrite]]:
    shop = HeldStockWrite(replica_b.ledger_transport)
    parts = inventory_bootstrap(
        InventorySettings(common=replica_b.common, database_url=await store.url("inventory")),
        ledger_transport=replica_b.ledger_transport,
        shop_transport=shop,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=parts.app_factory()),
        base_url="http://inventory-a",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as client:
        try:
            yield client, shop
        finally:
            shop.let_through.set()
            await asyncio.gather(*shop.calls, return_exceptions=True)
            for close in parts.on_stop:
                await close()
            await parts.db.dispose()


async def _sync_held_in_its_push_phase(
    replica_a: tuple[httpx.AsyncClient, HeldStockWrite],
) -> asyncio.Task[httpx.Response]:
    client, shop = replica_a
    running = asyncio.create_task(client.post("/sync", params={"connection": "demo"}))
    shop.calls.append(running)
    await asyncio.wait_for(shop.waiting.wait(), timeout=20)
    return running


async def test_a_sync_started_on_one_replica_refuses_a_second_one_on_another(
    replica_b: System, replica_a: tuple[httpx.AsyncClient, HeldStockWrite]
):
    await enable_sync(replica_b)
    await sync(replica_b)
    await receive(replica_b, "MUG-BLACK", 5)
    running = await _sync_held_in_its_push_phase(replica_a)

    second = await replica_b.apps["inventory"].post("/sync", params={"connection": "demo"})
    assert second.status_code == 409, second.text
    assert "already running" in second.json()["detail"]

    replica_a[1].let_through.set()
    first = await asyncio.wait_for(running, timeout=20)
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["changed"]) == ("ok", 1)
    runs = (await replica_b.apps["inventory"].get("/sync/runs")).json()
    assert [r["status"] for r in runs] == ["ok", "ok"]  # the first sync and A's: no third
    # Free again once A's sync is done, on either replica.
    await sync(replica_b)


async def test_a_push_on_one_replica_waits_for_another_replicas_push(
    replica_b: System, replica_a: tuple[httpx.AsyncClient, HeldStockWrite]
):
    location = await enable_sync(replica_b, ledger_always_wins=True)
    await sync(replica_b)
    assert (await shop_levels(replica_b))["MUG-BLACK"] == 20
    await receive(replica_b, "MUG-BLACK", 5)
    # A's full sync read 25 for the mug and is about to set it in the shop ...
    running = await _sync_held_in_its_push_phase(replica_a)
    # ... when more mugs are received, and B hears from the shop about the mug (it shows 20).
    await receive(replica_b, "MUG-BLACK", 5)
    item = await item_of(replica_b, "MUG-BLACK")
    await publish_shop_report(replica_b, item, location, 20, datetime.now(UTC))

    # B must not write the shop's stock while A does: A would then overwrite B's newer figure.
    for _ in range(30):
        await asyncio.sleep(0.1)
        assert (await shop_levels(replica_b))["MUG-BLACK"] == 20, "B pushed alongside A"

    replica_a[1].let_through.set()
    assert (await asyncio.wait_for(running, timeout=20)).json()["changed"] == 1

    # Then B's push, after A's: B expected the 20 it was told of, the shop now shows A's 25, so
    # the compare-and-set refuses it and B reports the difference rather than writing blind.
    # Either way A's older figure never lands after B's and nothing was written alongside.
    for _ in range(200):
        level = (await shop_levels(replica_b))["MUG-BLACK"]
        open_differences = {
            m["key"] for m in (await mismatches(replica_b))["items"] if m["kind"] == "level_differs"
        }
        if level == 30 or (level == 25 and "MUG-BLACK" in open_differences):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the shop shows {level}; open differences {open_differences}")
