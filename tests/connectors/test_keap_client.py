"""The Keap client against the sandbox's Keap: reads by id (None when absent), orders since a
time across pages, hooks, and the quota: calls spaced at the key's rate, and a spent minute
surfacing as a transient KeapRateLimited that holds every later call until the next minute."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from lb_connectors.keap import KeapAuthError, KeapClient, KeapRateLimited
from lb_connectors.keap.pacing import KeapPacer
from lb_sandbox.app import create_app

BASE = "http://sandbox/keap/crm/rest"


@pytest.fixture
def app():
    return create_app()


def client_for(app, key: str, per_minute: int = 6000) -> KeapClient:
    return KeapClient(
        BASE, key, requests_per_minute=per_minute, transport=httpx.ASGITransport(app=app)
    )


async def _seed_orders(app, key: str, n: int) -> list[int]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as admin:
        contact = (
            await admin.post(f"/_sandbox/keap/{key}/contacts", json={"given_name": "Ada"})
        ).json()
        ids = []
        for _ in range(n):
            order = await admin.put(
                f"/_sandbox/keap/{key}/orders",
                json={"contact_id": contact["id"], "order_items": [{"price": 10}]},
            )
            ids.append(order.json()["id"])
        return ids


async def test_reads_by_id_and_orders_since_across_pages(app, monkeypatch):
    key = f"sak-{uuid.uuid4().hex}"
    ids = await _seed_orders(app, key, 5)
    monkeypatch.setattr("lb_connectors.keap.client.PAGE", 2)
    client = client_for(app, key)
    try:
        order = await client.order(str(ids[0]))
        assert order is not None and order["id"] == ids[0]
        assert await client.order("999999") is None
        contact = await client.contact(str(order["contact"]["id"]))
        assert contact is not None and contact["given_name"] == "Ada"
        assert await client.currency() == "USD"
        since = datetime.now(UTC) - timedelta(minutes=1)
        assert [o["id"] async for o in client.orders_since(since)] == ids
        assert await client.hooks() == []
    finally:
        await client.aclose()


async def test_a_spent_minute_is_a_transient_rate_limit_that_holds_later_calls(app):
    key = f"sak-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as admin:
        await admin.post(f"/_sandbox/keap/{key}/limits", json={"per_minute": 2})
    client = client_for(app, key)
    try:
        await client.hooks()
        with pytest.raises(KeapRateLimited) as refused:
            for _ in range(5):  # the second spends the minute (available 0): then held
                await client.hooks()
        assert refused.value.retry_after is not None and 0 < refused.value.retry_after <= 61
        assert "quota" in refused.value.reason
        # Held: the next call is refused at once, without reaching Keap.
        started = time.monotonic()
        with pytest.raises(KeapRateLimited):
            await client.hooks()
        assert time.monotonic() - started < 1.0
    finally:
        await client.aclose()


async def test_the_pacer_spaces_calls_at_the_keys_rate_and_holds_after_a_429():
    pacer = KeapPacer(per_minute=600)  # one call each 0.1 s
    started = time.monotonic()
    for _ in range(4):
        await pacer.wait()
    assert 0.25 <= time.monotonic() - started < 1.0
    hold = pacer.observe(429, {})
    assert hold is not None and 0 < hold <= 61
    assert pacer.observe(200, {"x-keap-product-throttle-available": "17"}) is None


async def test_a_refused_key_is_a_permanent_error_naming_the_setting(app):
    client = KeapClient(BASE, "", transport=httpx.ASGITransport(app=app))
    try:
        with pytest.raises(KeapAuthError, match="admin_token"):
            await client.hooks()
    finally:
        await client.aclose()
