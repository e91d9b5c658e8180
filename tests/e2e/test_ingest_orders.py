"""ingest on its own (real RabbitMQ, real SQLite): what a platform's chaos becomes.

Out-of-order and duplicate deliveries, the transfer trigger, skips, and bad input. A probe
queue bound to every event shows what ingest emitted.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from lb_connectors.shopify_admin import API_VERSION
from tests.platforms.factories import (
    fixture,
    shopify_headers,
    shopify_json,
    shopify_order,
    woocommerce_ping,
)
from tests.support.broker import Probe, probe
from tests.support.system import System, running_system


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path, "ingest") as running:
        yield running


@pytest.fixture
async def events(amqp_url, broker_prefix, system) -> AsyncIterator[Probe]:
    async with probe(amqp_url, broker_prefix) as seen:
        yield seen


def versions(**changes):
    """The same order at several moments: its id is fixed, its updated_at and status change."""
    base = shopify_order(id=5550001, financial_status="pending", updated_at="2025-03-01T10:00:00Z")
    return shopify_json({**base, **changes})


async def _ready_count(events: Probe, order_key: str, *, expected: int) -> int:
    """How many `order.ready` ingest sent for the order: waits for `expected` of them (a busy
    machine can take seconds), then a moment more so a duplicate would be seen too."""
    import asyncio

    if expected:
        await events.wait_for("order.ready", expected, timeout=15, order_key=order_key)
    await asyncio.sleep(0.8)  # a second (wrong) order.ready would come right after the first
    return len(events.about("order.ready", order_key))


async def test_paid_before_create_transfers_once_with_the_paid_version(system, events):
    paid = versions(financial_status="paid", updated_at="2025-03-01T10:05:00Z")
    created = versions()
    first = await system.post_shopify("orders/paid", paid)
    key = first.json()["order_key"]
    late = await system.post_shopify("orders/create", created)
    assert late.json()["status"] == "stale"

    [ready] = await events.wait_for("order.ready")
    assert ready.payload["order"]["financial_status"] == "paid"
    assert await _ready_count(events, key, expected=1) == 1
    order = await system.order(key)
    assert order["status"] == "transferred"
    assert order["version"].startswith("2025-03-01T10:05:00")
    assert "webhook.stale" in [e["step"] for e in order["timeline"]]
    assert [d["outcome"] for d in order["deliveries"]] == ["accepted", "stale"]


async def test_waits_for_payment_then_transfers_exactly_once(system, events):
    key = (await system.post_shopify("orders/create", versions())).json()["order_key"]
    waiting = await system.order(key)
    assert waiting["status"] == "waiting"
    assert "paid" in waiting["status_reason"]

    await system.post_shopify(
        "orders/paid", versions(financial_status="paid", updated_at="2025-03-01T10:05:00Z")
    )
    await system.post_shopify(
        "orders/updated", versions(financial_status="paid", updated_at="2025-03-01T10:06:00Z")
    )
    assert await _ready_count(events, key, expected=1) == 1
    assert (await system.order(key))["version"].startswith("2025-03-01T10:06:00")


async def test_same_merchant_action_twice_is_one_delivery(system, events):
    body = versions(financial_status="paid")
    one = await system.post_shopify("orders/paid", body, **{"X-Shopify-Event-Id": "evt-1"})
    other = await system.post_shopify("orders/paid", body, **{"X-Shopify-Event-Id": "evt-1"})
    assert one.json()["status"] == "accepted"
    assert other.json() == {"status": "duplicate"}
    assert await _ready_count(events, one.json()["order_key"], expected=1) == 1


async def test_each_delivery_shows_its_api_version_and_warns_when_not_the_pinned_one(system):
    pinned = await system.post_shopify("orders/paid", versions(financial_status="paid"))
    other = await system.post_shopify(
        "orders/paid",
        versions(financial_status="paid", updated_at="2025-03-01T11:00:00Z"),
        **{"X-Shopify-API-Version": "2025-01"},
    )
    assert pinned.status_code == other.status_code == 200  # intake is unchanged
    listed = (await system.apps["ingest"].get("/deliveries", params={"connection": "demo"})).json()
    newest, oldest = listed[0], listed[1]
    assert (oldest["api_version"], oldest["api_version_warning"]) == (API_VERSION, None)
    assert newest["api_version"] == "2025-01"
    assert "2025-01" in newest["api_version_warning"]
    assert f"Set the app's webhook API version to {API_VERSION}" in newest["api_version_warning"]
    # The order's own view shows its deliveries the same way.
    order = await system.order(pinned.json()["order_key"])
    assert [d["api_version"] for d in order["deliveries"]] == [API_VERSION, "2025-01"]


async def test_test_orders_are_skipped_with_a_reason(system, events):
    body = shopify_json(shopify_order(test=True))
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    order = await system.order(key)
    assert order["status"] == "skipped"
    assert "Test order" in order["status_reason"]
    assert await _ready_count(events, key, expected=0) == 0


async def test_cancelled_before_transfer_makes_no_document(system, events):
    body = shopify_json(
        shopify_order(financial_status="pending", cancelled_at="2025-03-01T11:00:00Z")
    )
    key = (await system.post_shopify("orders/cancelled", body)).json()["order_key"]
    order = await system.order(key)
    assert order["status"] == "cancelled"
    assert "no invoice" in order["status_reason"]
    assert await _ready_count(events, key, expected=0) == 0


async def test_orders_list_filters_by_status_and_text(system):
    await system.post_shopify(
        "orders/create",
        shopify_json(shopify_order(email="anna@example.com", financial_status="pending")),
    )
    await system.post_shopify("orders/paid", shopify_json(shopify_order(email="bo@example.com")))
    ingest = system.apps["ingest"]
    waiting = (await ingest.get("/orders", params={"status": "waiting"})).json()
    assert [o["email"] for o in waiting["orders"]] == ["anna@example.com"]
    found = (await ingest.get("/orders", params={"q": "BO@"})).json()
    assert [o["email"] for o in found["orders"]] == ["bo@example.com"]
    # A whole address or an order's name or number is looked up (by index), not searched for.
    exact = (await ingest.get("/orders", params={"q": "Bo@Example.com"})).json()
    assert [o["email"] for o in exact["orders"]] == ["bo@example.com"]
    assert (await ingest.get("/orders", params={"q": "o@example.com"})).json()["total"] == 0
    name = found["orders"][0]["order_name"]
    assert name.startswith("#")
    for given in (name, name.removeprefix("#")):
        by_name = (await ingest.get("/orders", params={"q": given})).json()
        assert [o["email"] for o in by_name["orders"]] == ["bo@example.com"], given
    # The overview's counts: per connection and status, in one call.
    counted = (await ingest.get("/orders/counts")).json()
    assert counted["total"] == 2 and counted["counts"]["demo"]["waiting"] == 1
    later = await ingest.get("/orders/counts", params={"since": "2999-01-01T00:00:00Z"})
    assert later.json() == {"counts": {}, "total": 0}
    bad = await ingest.get("/orders", params={"status": "lost"})
    assert bad.status_code == 422 and "unknown status" in bad.json()["detail"]


async def test_bad_requests_get_clear_errors(system):
    ingest = system.apps["ingest"]
    body = versions(financial_status="paid")

    unknown = await system.post_shopify("orders/paid", body, connection="nope")
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]

    no_topic = shopify_headers("orders/paid", body, "demo-secret")
    del no_topic["X-Shopify-Topic"]
    missing = await ingest.post("/webhooks/shopify/demo", content=body, headers=no_topic)
    assert missing.status_code == 400 and "X-Shopify-Topic" in missing.json()["error"]

    unsigned = shopify_headers("orders/paid", body, "demo-secret")
    del unsigned["X-Shopify-Hmac-Sha256"]
    refused = await ingest.post("/webhooks/shopify/demo", content=body, headers=unsigned)
    assert refused.status_code == 401

    topic = await system.post_shopify("products/create", body)
    assert topic.status_code == 400 and "unknown topic" in topic.json()["error"]

    huge = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    too_large = await system.post_shopify("orders/paid", huge)
    assert too_large.status_code == 413

    platform = await ingest.post("/webhooks/magento/demo", content=body)
    assert platform.status_code == 404 and "magento" in platform.json()["error"]


async def test_admin_routes_need_the_token(system):
    ingest = system.apps["ingest"]
    assert (
        await ingest.get("/orders", headers={"Authorization": "Bearer wrong"})
    ).status_code == 401
    assert (await ingest.get("/orders", headers={"Authorization": ""})).status_code == 401
    assert (await ingest.get("/healthz", headers={"Authorization": ""})).status_code == 200
    ready = await ingest.get("/readyz", headers={"Authorization": ""})
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    metrics = await ingest.get("/metrics", headers={"Authorization": ""})
    assert "ledgerbridge_messages_handled_total" in metrics.text


async def test_connections_never_show_their_secrets_and_rotate(system):
    ingest = system.apps["ingest"]
    [demo] = (await ingest.get("/connections")).json()
    assert demo["secrets_configured"] == 1 and "demo-secret" not in str(demo)

    rotated = await ingest.put(
        "/connections/demo", json={"platform": "shopify", "secrets": ["new-secret", "demo-secret"]}
    )
    assert rotated.status_code == 200 and "new-secret" not in rotated.text
    for secret in ("new-secret", "demo-secret"):
        answer = await system.post_shopify(
            "orders/paid", shopify_json(shopify_order()), secret=secret
        )
        assert answer.status_code == 200, secret
    await ingest.put("/connections/demo", json={"platform": "shopify", "secrets": ["new-secret"]})
    old = await system.post_shopify(
        "orders/paid", shopify_json(shopify_order()), secret="demo-secret"
    )
    assert old.status_code == 401


async def test_woocommerce_ping_is_answered(system):
    ingest = system.apps["ingest"]
    await ingest.put("/connections/woo", json={"platform": "woocommerce", "secrets": ["w"]})
    headers, body = woocommerce_ping()
    answer = await ingest.post("/webhooks/woocommerce/woo", content=body, headers=headers)
    assert answer.status_code == 200


async def test_authentic_but_unusable_order_is_kept_and_shows_as_failed(system, events):
    body = shopify_json({**shopify_order(id=777001), "total_price": "lots"})
    answer = await system.post_shopify("orders/paid", body)
    assert answer.status_code == 422
    assert "total_price" in answer.json()["error"]
    key = answer.json()["order_key"]
    order = await system.order(key)
    assert order["status"] == "failed"
    assert "total_price" in order["status_reason"]
    assert order["deliveries"][0]["outcome"] == "unusable"
    raw = await system.apps["ingest"].get(order["deliveries"][0]["body_url"])
    assert raw.content == body
    # Replay re-reads the stored delivery; still unreadable, it says why instead of guessing.
    replay = await system.apps["ingest"].post(f"/orders/{key}/replay")
    assert replay.status_code == 409 and "total_price" in replay.json()["error"]
    assert await _ready_count(events, key, expected=0) == 0


async def test_versions_and_date_filters(system, events):
    await system.post_shopify("orders/create", versions())
    key = (
        await system.post_shopify(
            "orders/paid", versions(financial_status="paid", updated_at="2025-03-01T10:05:00Z")
        )
    ).json()["order_key"]
    order = await system.order(key)
    assert [v[:19] for v in order["versions"]] == ["2025-03-01T10:05:00", "2025-03-01T10:00:00"]
    ingest = system.apps["ingest"]
    assert (await ingest.get("/orders", params={"since": "2000-01-01T00:00:00Z"})).json()[
        "total"
    ] == 1
    assert (await ingest.get("/orders", params={"until": "2000-01-01T00:00:00Z"})).json()[
        "total"
    ] == 0
    naive = await ingest.get("/orders", params={"since": "2000-01-01T00:00:00"})
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]


async def test_bulk_replay_of_failed_orders(system, events):
    bad = [shopify_json({**shopify_order(id=880000 + i), "total_price": "x"}) for i in range(2)]
    for body in bad:
        await system.post_shopify("orders/paid", body)
    ingest = system.apps["ingest"]
    dry = (await ingest.post("/orders/replay", params={"dry_run": True})).json()
    assert dry["matched"] == 2 and dry["dry_run"] is True
    # Still unreadable: each replay says why, none is sent on.
    done = (await ingest.post("/orders/replay")).json()
    assert [r["status_code"] for r in done["results"]] == [409, 409]
    assert await _ready_count(events, done["results"][0]["order_key"], expected=0) == 0


async def test_wrong_content_type_is_refused(system):
    body = versions(financial_status="paid")
    answer = await system.post_shopify("orders/paid", body, **{"Content-Type": "text/plain"})
    assert answer.status_code == 415 and "text/plain" in answer.json()["error"]


async def test_shop_stock_change_is_passed_on_to_inventory(system, events):
    body = fixture("shopify_inventory_levels_update.json")
    answer = await system.post_shopify("inventory_levels/update", body)
    assert answer.status_code == 200, answer.text
    [reported] = await events.wait_for("stock.shop_reported")
    level = json.loads(body)
    assert reported.payload["inventory_item_id"] == str(level["inventory_item_id"])
    assert reported.payload["available"] == level["available"]


def _sample(metrics: str, series: str) -> float | None:
    """The value of one series in Prometheus' text format (None when absent)."""
    for line in metrics.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_metrics_show_webhook_accept_time_and_outbox_lag(system, events):
    import asyncio

    ingest = system.apps["ingest"]
    accepted = 'ledgerbridge_webhook_accept_seconds_count{platform="shopify"}'
    before = _sample((await ingest.get("/metrics")).text, accepted) or 0.0
    answer = await system.post_shopify("orders/paid", versions(financial_status="paid"))
    assert answer.status_code == 200, answer.text
    await events.wait_for("order.ready", 1, timeout=15, order_key=answer.json()["order_key"])
    metrics = (await ingest.get("/metrics")).text
    assert _sample(metrics, accepted) == before + 1
    # The relay measures its outbox every few seconds: once order.ready is out, nothing waits.
    for _ in range(100):
        metrics = (await ingest.get("/metrics")).text
        if _sample(metrics, 'ledgerbridge_outbox_pending{service="ingest"}') == 0:
            break
        await asyncio.sleep(0.1)
    assert _sample(metrics, 'ledgerbridge_outbox_pending{service="ingest"}') == 0, metrics
    assert _sample(metrics, 'ledgerbridge_outbox_oldest_pending_seconds{service="ingest"}') == 0
