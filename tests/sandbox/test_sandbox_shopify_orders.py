"""Reconciliation reads orders through the GraphQL Admin API: the `orders` query filtered by
updated_at with cursor paging, then the whole order, turned back into the webhook's body. An
order read this way parses to the same order as its webhook."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from lb_connectors.platforms.registry import get_adapter
from lb_connectors.shopify_admin import ShopifyGraphQLClient
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


async def test_an_order_with_more_lines_than_one_read_takes_is_read_whole():
    app = create_app(SandboxSettings())
    token = f"shop-{uuid.uuid4().hex}"
    transport = httpx.ASGITransport(app=app)
    big = shopify_order(id=777, name="#1777", lines=[{"sku": f"L{i}"} for i in range(90)])
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as sandbox:
        await sandbox.post(f"/_sandbox/shopify/{token}/orders", json=big)
    adapter = get_adapter("shopify")
    async with ShopifyGraphQLClient("http://sandbox/shopify", token, transport=transport) as shop:
        read = await shop.order_body("777")
        assert shop.stats.calls == 3  # 25 lines, then pages of 50
    assert read is not None and [li["sku"] for li in read["line_items"]] == [
        f"L{i}" for i in range(90)
    ]
    got = adapter.parse_order(json.dumps(read).encode(), shop=SHOP)
    assert got == adapter.parse_order(json.dumps(big).encode(), shop=SHOP)
    assert len(got.lines) == 90


def _refunds_of(order: dict) -> list[dict]:
    """Three refunds as REST order bodies carry them: goods with a transaction (a real
    refunds/create body), money only (a discrepancy adjustment), and shipping (the older
    `shipping_refund` adjustment, which GraphQL reports as a refund shipping line)."""
    goods = json.loads(fixture("shopify_refunds_create_VND.json"))
    goods["order_id"] = order["id"]
    money_only = {
        "id": 4401,
        "order_id": order["id"],
        "created_at": "2026-11-21T09:00:00+01:00",
        "note": "goodwill",
        "refund_line_items": [],
        "order_adjustments": [
            {"id": 51, "kind": "refund_discrepancy", "amount": "-5.00", "tax_amount": "0.00"}
        ],
        "transactions": [
            {"id": 61, "kind": "refund", "status": "success", "amount": "5.00", "currency": "VND"}
        ],
    }
    shipping = {
        "id": 4402,
        "order_id": order["id"],
        "created_at": "2026-11-22T09:00:00Z",
        "note": None,
        "refund_line_items": [],
        "order_adjustments": [
            {"id": 52, "kind": "shipping_refund", "amount": "-10.00", "tax_amount": "-2.00"}
        ],
        "transactions": [],
    }
    return [goods, money_only, shipping]


async def test_refunds_are_read_with_their_order():
    """A refund whose refunds/create webhook was lost comes back with its order."""
    app = create_app(SandboxSettings())
    token = f"shop-{uuid.uuid4().hex}"
    transport = httpx.ASGITransport(app=app)
    order = shopify_order(
        id=6273085767965,
        currency="VND",
        tax_rate=None,
        taxes_included=False,
        lines=[{"id": 16014782595357, "sku": None, "title": "T-shirt 1", "price": "20"}] * 1,
        shipping="10",
        updated_at="2026-11-22T10:00:00Z",
    )
    order["refunds"] = _refunds_of(order)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as sandbox:
        await sandbox.post(f"/_sandbox/shopify/{token}/orders", json=order)
    adapter = get_adapter("shopify")
    async with ShopifyGraphQLClient("http://sandbox/shopify", token, transport=transport) as shop:
        read = await shop.order_body(str(order["id"]))
    assert read is not None
    expected = adapter.parse_refunds_from_order(json.dumps(order).encode(), shop=SHOP)
    got = adapter.parse_refunds_from_order(json.dumps(read).encode(), shop=SHOP)
    assert [r.refund_id for r in got] == ["1002961240349", "4401", "4402"]
    assert got == expected
    goods, money_only, shipping = got
    assert goods.lines[0].restock and goods.total == Decimal("20")
    assert money_only.adjustments == Decimal("5.00") and money_only.total == Decimal("5.00")
    assert shipping.shipping == Decimal("12.00") and shipping.total == Decimal("12.00")
