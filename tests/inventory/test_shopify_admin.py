"""The Shopify Admin client against the sandbox's emulation: pages, levels, orders, auth, and
the leaky bucket (pacing, 429 with Retry-After)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from lb_connectors.shopify_admin import (
    CallLimitPacer,
    ShopifyAdminClient,
    ShopifyAuthError,
    ShopifyRejected,
)
from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings


@pytest.fixture
def app():
    return create_app(SandboxSettings(shopify_bucket_capacity=40, shopify_leak_per_second=200))


@pytest.fixture
def token() -> str:
    return f"shop-{uuid.uuid4().hex}"


@pytest.fixture
async def sandbox(app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


def make_client(app, token: str, **kwargs) -> ShopifyAdminClient:
    return ShopifyAdminClient(
        "http://sandbox/shopify", token, transport=httpx.ASGITransport(app=app), **kwargs
    )


async def test_products_are_paged_through_link_headers(app, sandbox, token):
    seed = [{"title": f"P{i}", "variants": [{"sku": f"SKU-{i:04d}"}]} for i in range(520)]
    assert (await sandbox.post(f"/_sandbox/shopify/{token}/products", json=seed)).status_code == 201
    async with make_client(app, token) as shop:
        products = [p async for p in shop.iter_products()]
        assert shop.stats.calls == 3  # 522 products (2 seeded), 250 a page
    skus = [v.sku for p in products for v in p.variants]
    assert len(skus) == len(set(skus)) == 522
    assert "SKU-0519" in skus and "TSHIRT-RED-M" in skus


async def test_page_info_cannot_be_mixed_with_filters(sandbox, token):
    headers = {"X-Shopify-Access-Token": token}
    first = await sandbox.get(
        "/shopify/admin/api/2025-01/orders.json", params={"limit": 1}, headers=headers
    )
    assert first.status_code == 200 and first.json() == {"orders": []}
    bad = await sandbox.get(
        "/shopify/admin/api/2025-01/products.json",
        params={"limit": 1, "page_info": "e30=", "status": "any"},
        headers=headers,
    )
    assert bad.status_code == 400 and "errors" in bad.json()
    too_big = await sandbox.get(
        "/shopify/admin/api/2025-01/products.json", params={"limit": 251}, headers=headers
    )
    assert too_big.status_code == 400


async def test_missing_token_is_401_in_shopifys_words(app, sandbox):
    response = await sandbox.get("/shopify/admin/api/2025-01/locations.json")
    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    async with make_client(app, "") as shop:
        with pytest.raises(ShopifyAuthError):
            await shop.list_locations()


async def test_levels_are_read_and_set(app, token):
    async with make_client(app, token) as shop:
        [location] = await shop.list_locations()
        items = {v.sku: v.inventory_item_id async for p in shop.iter_products() for v in p.variants}
        levels = await shop.get_levels(list(items.values()), [location.id])
        assert {lv.inventory_item_id: lv.available for lv in levels} == {
            items["TSHIRT-RED-M"]: 50,
            items["MUG-BLACK"]: 20,
        }
        level = await shop.set_level(
            location_id=location.id, inventory_item_id=items["MUG-BLACK"], available=7
        )
        assert level.available == 7 and level.updated_at is not None
        [again] = await shop.get_levels([items["MUG-BLACK"]], [location.id])
        assert again.available == 7
        with pytest.raises(ShopifyRejected) as refused:
            await shop.set_level(location_id=location.id, inventory_item_id=1, available=1)
        assert "Inventory item does not exist" in (refused.value.detail or "")


async def test_orders_since_a_time_are_paged(app, sandbox, token):
    old = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    for i in range(5):
        body = {"id": 100 + i, "name": f"#{1000 + i}", "updated_at": old if i == 0 else None}
        body = {k: v for k, v in body.items() if v is not None}
        await sandbox.post(f"/_sandbox/shopify/{token}/orders", json=body)
    async with make_client(app, token) as shop:
        since = datetime.now(UTC) - timedelta(days=1)
        orders = [o async for o in shop.iter_orders(since, page_size=2)]
        assert shop.stats.calls == 2
    assert [o["id"] for o in orders] == [101, 102, 103, 104]


async def test_a_429_is_waited_out_and_retried(app, sandbox, token):
    response = await sandbox.post(
        f"/_sandbox/shopify/{token}/throttle", json={"times": 2, "retry_after": 0.3}
    )
    assert response.status_code == 200
    async with make_client(app, token) as shop:
        started = time.monotonic()
        locations = await shop.list_locations()
        assert len(locations) == 1
        assert time.monotonic() - started >= 0.55  # two Retry-After waits
        assert shop.stats.throttled == 2 and shop.stats.failed == 0


async def test_the_bucket_refuses_bursts_with_retry_after(token):
    app = create_app(SandboxSettings(shopify_bucket_capacity=4, shopify_leak_per_second=2))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as sandbox:
        headers = {"X-Shopify-Access-Token": token}
        answers = [
            await sandbox.get("/shopify/admin/api/2025-01/locations.json", headers=headers)
            for _ in range(5)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert answers[3].headers["X-Shopify-Shop-Api-Call-Limit"] == "4/4"
    assert float(answers[4].headers["Retry-After"]) > 0
    assert "Exceeded" in answers[4].json()["errors"]


async def test_pacing_keeps_a_long_run_under_a_small_bucket(token):
    app = create_app(SandboxSettings(shopify_bucket_capacity=5, shopify_leak_per_second=20))
    pacer = CallLimitPacer(leak_per_second=20, capacity=5)
    async with make_client(app, token, pacer=pacer) as shop:
        for _ in range(30):
            await shop.list_locations()
        assert shop.stats.throttled == 0 and shop.stats.calls == 30
