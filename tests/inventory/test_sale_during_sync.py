"""A sale in the shop while a full sync runs is never overwritten: the sync read the shop's
level (bulk), the sale lowers it, and the sync's write, made by compare-and-set over the figure
it read, is refused for that SKU and reported as a level difference. The other SKUs are set.

The sale is made by the test between the sync's read and its write (the transport sees the
write go out and lets the sale reach the shop first); both run against the sandbox."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from lb_common.db import Database
from lb_common.migrations import COMMON_TABLES
from lb_connectors.economic.client import EconomicClient
from lb_connectors.economic.ledger import EconomicLedger
from lb_connectors.shopify_admin import ShopifyGraphQLClient
from lb_inventory.policy import StockSyncSettings
from lb_inventory.store import TABLES, MismatchRow
from lb_inventory.sync import SyncLocks, full_sync
from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings

GRANT = "sale-during-sync"


class SaleBeforeFirstWrite(httpx.AsyncBaseTransport):
    """Forwards to the sandbox; just before the first stock write reaches it, a customer buys
    one unit of `sku` in the shop."""

    def __init__(self, inner: httpx.AsyncBaseTransport, token: str, sku: str) -> None:
        self.inner = inner
        self.token = token
        self.sku = sku
        self.sold_at_level: int | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.sold_at_level is None and b"inventorySetQuantities" in request.content:
            await self._sell_one()
        return await self.inner.handle_async_request(request)

    async def _sell_one(self) -> None:
        async with httpx.AsyncClient(transport=self.inner, base_url="http://sandbox") as admin:
            state = (await admin.get(f"/_sandbox/shopify/{self.token}/state")).json()
            [item] = [
                v["inventory_item_id"]
                for p in state["products"]
                for v in p["variants"]
                if v["sku"] == self.sku
            ]
            [level] = [lv for lv in state["inventory_levels"] if lv["inventory_item_id"] == item]
            self.sold_at_level = level["available"] - 1
            await admin.post(
                f"/_sandbox/shopify/{self.token}/levels",
                json={"inventory_item_id": item, "available": self.sold_at_level},
            )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}")
    await database.create_tables([*TABLES, *COMMON_TABLES])
    yield database
    await database.dispose()


async def shop_levels(admin: httpx.AsyncClient, token: str) -> dict[str, Any]:
    state = (await admin.get(f"/_sandbox/shopify/{token}/state")).json()
    items = {v["inventory_item_id"]: v["sku"] for p in state["products"] for v in p["variants"]}
    return {items[lv["inventory_item_id"]]: lv["available"] for lv in state["inventory_levels"]}


async def test_a_sale_during_a_full_sync_is_reported_not_overwritten(db: Database):
    app = create_app(SandboxSettings(shopify_bulk_delay_seconds=0.02))
    token = f"shop-{uuid.uuid4().hex}"
    sandbox = httpx.ASGITransport(app=app)
    interleaving = SaleBeforeFirstWrite(sandbox, token, "MUG-BLACK")
    async with (
        httpx.AsyncClient(transport=sandbox, base_url="http://sandbox") as admin,
        EconomicClient("http://sandbox/economic", "app", GRANT, transport=sandbox) as ledger,
        ShopifyGraphQLClient("http://sandbox/shopify", token, transport=interleaving) as shop,
    ):
        await admin.get(
            "/economic/products",
            headers={"X-AppSecretToken": "app", "X-AgreementGrantToken": GRANT},
        )
        # Goods received in the ledger for both seeded products: 50 → 60 and 20 → 25.
        for number, quantity in (("TSHIRT-RED-M", 10), ("MUG-BLACK", 5)):
            response = await admin.post(
                f"/_sandbox/agreements/{GRANT}/products/{number}/receive",
                json={"quantity": quantity},
            )
            assert response.status_code == 200, response.text
        location = (await shop.list_locations())[0].legacy_resource_id
        settings = StockSyncSettings(enabled=True, location_id=location)
        result = await full_sync(
            "demo",
            db=db,
            ledger=EconomicLedger(ledger),
            shop=shop,
            settings=settings,
            locks=SyncLocks(db),
        )
        levels = await shop_levels(admin, token)

    assert result.status == "ok", result.error
    assert interleaving.sold_at_level == 19  # the sale happened between read and write
    assert levels["TSHIRT-RED-M"] == 60  # set as the ledger says
    assert levels["MUG-BLACK"] == 19  # the sale stands: 25 was not written over it
    assert (result.changed, result.failed) == (1, 0)
    async with db.session() as session:
        [differs] = (
            await session.exec(select(MismatchRow).where(MismatchRow.kind == "level_differs"))
        ).all()
    assert (differs.key, differs.ledger_level, differs.shop_level) == ("MUG-BLACK", 25, 19)
    assert "not overwritten" in differs.message
    assert json.dumps(result.as_dict())  # the run's summary stays serialisable
