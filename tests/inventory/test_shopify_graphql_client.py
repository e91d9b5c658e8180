"""The GraphQL Admin client against the sandbox: THROTTLED answers waited out, pacing from the
cost figures, bulk stock reads, compare-and-set writes, webhook subscriptions, and the
version's support warning."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from lb_connectors.call_retry import CallRetry
from lb_connectors.shopify_admin.cost import CostPacer
from lb_connectors.shopify_admin.errors import (
    ShopifyAuthError,
    ShopifyRateLimited,
    ShopifyRejected,
    ShopifyUnavailable,
)
from lb_connectors.shopify_admin.gql_models import QuantityChange
from lb_connectors.shopify_admin.graphql_client import ShopifyGraphQLClient
from lb_connectors.shopify_admin.versions import API_VERSION, support_warning, supported_until
from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings


@pytest.fixture
def token() -> str:
    return f"shop-{uuid.uuid4().hex}"


def make_app(plan: str = "standard", bucket: float | None = None):
    return create_app(
        SandboxSettings(
            shopify_plan=plan, shopify_points_bucket=bucket, shopify_bulk_delay_seconds=0.05
        )
    )


@pytest.fixture
def app():
    return make_app()


@pytest.fixture
async def sandbox(app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


def make_client(app, token: str, **kwargs) -> ShopifyGraphQLClient:
    return ShopifyGraphQLClient(
        "http://sandbox/shopify",
        token,
        transport=httpx.ASGITransport(app=app),
        retry=CallRetry(backoff=0.01),
        bulk_poll_seconds=0.05,
        **kwargs,
    )


async def test_throttled_answers_are_waited_out_and_sent_again(token):
    app = make_app("plus")  # 1,000 points/s: the wait is half a second, not five
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as sandbox:
        await sandbox.post(
            f"/_sandbox/shopify/{token}/faults", json={"kind": "throttled", "times": 2}
        )
    async with make_client(app, token, plan="plus") as shop:
        started = time.monotonic()
        [location] = await shop.list_locations()
        assert location.name == "Main warehouse"
        # Each THROTTLED emptied the bucket: the client waited for 502 points to come back.
        assert time.monotonic() - started >= 0.9
        assert shop.stats.throttled == 2 and shop.stats.failed == 0


class NeverWaits(CostPacer):
    async def before_call(self, cost: float) -> None:
        return None


async def read_levels_for_3750_points(shop: ShopifyGraphQLClient) -> None:
    [location] = await shop.list_locations()
    [item] = [s.inventory_item_id for s in await shop.read_stock() if s.sku == "MUG-BLACK"]
    # 5 calls of 250 items at 3 points each: far more than a 1,000-point bucket holds.
    await shop.levels([item] * 1250, location.id)


async def test_pacing_keeps_a_long_run_clear_of_throttling(token):
    app = make_app("plus", bucket=1000)
    async with make_client(app, token, plan="plus") as shop:
        await read_levels_for_3750_points(shop)
        assert shop.stats.throttled == 0 and shop.stats.failed == 0
        assert shop.pacer.waited_seconds > 2
        assert shop.points_used >= 3750


async def test_without_pacing_the_same_run_is_throttled(token):
    app = make_app("plus", bucket=1000)
    never_waits = NeverWaits(restore_rate=1000)
    async with make_client(app, token, pacer=never_waits) as shop:
        # Sent again at once, a throttled call meets THROTTLED again, maybe until it gives up.
        with contextlib.suppress(ShopifyRateLimited):
            await read_levels_for_3750_points(shop)
        assert shop.stats.throttled > 0


async def test_unavailable_and_internal_errors_are_retried(app, sandbox, token):
    for kind in ("unavailable", "internal_error"):
        await sandbox.post(f"/_sandbox/shopify/{token}/faults", json={"kind": kind})
    async with make_client(app, token) as shop:
        assert len(await shop.list_locations()) == 1
        assert shop.stats.retried == 2 and shop.stats.failed == 0


async def test_a_missing_token_is_an_auth_error(app):
    async with make_client(app, "") as shop:
        with pytest.raises(ShopifyAuthError):
            await shop.list_locations()


async def test_stock_is_read_by_one_bulk_operation(app, sandbox, token):
    seed = [
        {"title": f"P{i}", "variants": [{"sku": f"SKU-{i:04d}", "available": i}]}
        for i in range(300)
    ]
    assert (await sandbox.post(f"/_sandbox/shopify/{token}/products", json=seed)).status_code == 201
    async with make_client(app, token) as shop:
        [location] = await shop.list_locations()
        calls = shop.stats.calls
        stock = await shop.read_stock()
        # start, a few polls: a handful of calls, whatever the number of variants
        assert shop.stats.calls - calls <= 8
    by_sku = {s.sku: s for s in stock}
    assert len(by_sku) == 302
    assert by_sku["SKU-0123"].available == {location.id: 123}
    assert by_sku["MUG-BLACK"].title == "Mug / Black"


async def test_a_failed_bulk_operation_is_transient(app, sandbox, token):
    await sandbox.post(f"/_sandbox/shopify/{token}/faults", json={"kind": "bulk_failed"})
    async with make_client(app, token) as shop:
        with pytest.raises(ShopifyUnavailable, match="failed"):
            await shop.read_stock()
        assert len(await shop.read_stock()) == 2  # the next one works


async def test_set_quantities_writes_in_batches_and_returns_the_stale_ones(app, sandbox, token):
    seed = [
        {"title": f"P{i}", "variants": [{"sku": f"SKU-{i:04d}", "available": 5}]}
        for i in range(300)
    ]
    await sandbox.post(f"/_sandbox/shopify/{token}/products", json=seed)
    async with make_client(app, token) as shop:
        [location] = await shop.list_locations()
        stock = [s for s in await shop.read_stock() if s.sku and s.sku.startswith("SKU-")]
        changes = [
            QuantityChange(s.inventory_item_id, location.legacy_resource_id, 9, 5) for s in stock
        ]
        # Two of them moved in the shop since we read them (a sale, say).
        changes[10] = QuantityChange(stock[10].inventory_item_id, location.id, 9, 6)
        changes[260] = QuantityChange(stock[260].inventory_item_id, location.id, 9, 4)
        calls = shop.stats.calls
        outcome = await shop.set_quantities(changes)
        assert len(outcome.applied) == 298 and outcome.refused == []
        assert outcome.stale == [changes[10], changes[260]]
        # 250 + 50 quantities, each batch sent again without its stale one: four calls
        assert shop.stats.calls - calls == 4
        levels = await shop.levels([s.inventory_item_id for s in stock], location.id)
    assert sorted(set(levels.values())) == [5, 9]
    assert list(levels.values()).count(5) == 2


async def test_an_item_gone_from_the_shop_is_refused_not_raised(app, token):
    async with make_client(app, token) as shop:
        [location] = await shop.list_locations()
        outcome = await shop.set_quantities([QuantityChange("999", location.id, 1, 0)])
    assert outcome.applied == [] and len(outcome.refused) == 1


async def test_webhook_subscriptions_are_created_and_listed(app, token):
    async with make_client(app, token) as shop:
        made = await shop.create_webhook_subscription(
            "INVENTORY_LEVELS_UPDATE", "https://bridge.example/webhooks/shopify"
        )
        assert made.topic == "INVENTORY_LEVELS_UPDATE" and made.format == "JSON"
        assert await shop.webhook_subscriptions() == [made]
        with pytest.raises(ShopifyRejected, match="INVENTORY_LEVELS_UPDATE"):
            await shop.create_webhook_subscription(
                "INVENTORY_LEVELS_UPDATE", "https://bridge.example/webhooks/shopify"
            )


def test_the_version_warns_in_its_last_three_months():
    assert supported_until("2026-10") == date(2027, 10, 1)
    assert support_warning("2026-10", date(2027, 6, 30)) is None
    assert "2027-10-01" in (support_warning("2026-10", date(2027, 7, 1)) or "")
    assert "past its support" in (support_warning("2026-01", date(2027, 1, 2)) or "")
    with pytest.raises(ValueError, match="release name"):
        supported_until("2026-02")


async def test_an_old_version_is_logged_when_the_client_starts(app, caplog):
    caplog.set_level(logging.WARNING, "lb_connectors.shopify_admin")
    async with make_client(app, "t", api_version="2025-07"):
        pass
    assert any("2025-07" in r.getMessage() for r in caplog.records)
    assert support_warning(API_VERSION, date(2026, 11, 28)) is None
