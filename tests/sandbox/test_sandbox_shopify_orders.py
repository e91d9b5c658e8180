"""Reconciliation reads orders through the GraphQL Admin API: the `orders` query filtered by
updated_at with cursor paging, then the whole order, turned back into the webhook's body. An
order read this way parses to the same order as its webhook."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from lb_connectors.platforms.registry import get_adapter
from lb_connectors.shopify_admin import ShopifyGraphQLClient, ShopifyRejected
from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings
from tests.platforms.factories import fixture, shopify_order

SHOP = "example.myshopify.com"


async def test_an_order_read_by_graphql_parses_as_its_webhook():
    app = create_app(SandboxSettings())
    token = f"shop-{uuid.uuid4().hex}"
    transport = httpx.ASGITransport(app=app)
    webhook = json.loads(fixture("shopify_orders_create_discounts_HKD.json"))
    plain = shopify_order(
        id=555,
        lines=[{"sku": "MUG-BLACK", "quantity": 2}],
        shipping="39.00",
        updated_at="2026-11-20T10:00:00Z",
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as sandbox:
        for body in (webhook, plain):
            answer = await sandbox.post(f"/_sandbox/shopify/{token}/orders", json=body)
            assert answer.status_code == 201
    adapter = get_adapter("shopify")
    async with ShopifyGraphQLClient("http://sandbox/shopify", token, transport=transport) as shop:
        for body in (webhook, plain):
            read = await shop.order_body(str(body["id"]))
            assert read is not None
            expected = adapter.parse_order(json.dumps(body).encode(), shop=SHOP)
            got = adapter.parse_order(json.dumps(read).encode(), shop=SHOP)
            assert got == expected
        assert await shop.order_body("1") is None


async def test_orders_are_listed_by_updated_at_across_pages():
    app = create_app(SandboxSettings())
    token = f"shop-{uuid.uuid4().hex}"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as sandbox:
        for i in range(600):
            stamp = f"2026-11-{1 + i % 28:02d}T10:00:00Z"
            await sandbox.post(
                f"/_sandbox/shopify/{token}/orders",
                json={"id": 7000 + i, "name": f"#{i}", "updated_at": stamp},
            )
    async with ShopifyGraphQLClient("http://sandbox/shopify", token, transport=transport) as shop:
        since = datetime(2026, 11, 15, tzinfo=UTC)
        found = [v async for v in shop.iter_order_versions(since)]
        assert shop.stats.calls == 1 + 1  # 250 a page
    assert len(found) == len({n for n, _ in found})
    assert all(updated >= since for _, updated in found)
    assert [u for _, u in found] == sorted(u for _, u in found)  # sortKey UPDATED_AT
    expected = sum(1 for i in range(600) if 1 + i % 28 >= 15)
    assert len(found) == expected


async def test_an_order_with_more_lines_than_one_read_takes_is_refused_by_name():
    app = create_app(SandboxSettings())
    token = f"shop-{uuid.uuid4().hex}"
    transport = httpx.ASGITransport(app=app)
    big = shopify_order(id=777, name="#1777", lines=[{"sku": f"L{i}"} for i in range(26)])
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as sandbox:
        await sandbox.post(f"/_sandbox/shopify/{token}/orders", json=big)
    async with ShopifyGraphQLClient("http://sandbox/shopify", token, transport=transport) as shop:
        with pytest.raises(ShopifyRejected, match="#1777 has more than 25 lines"):
            await shop.order_body("777")
