"""Many shops, many ledgers: each connection reaches its own shop and books into its own
agreement, with its secrets sealed (issue #12)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.platforms.factories import shopify_order
from tests.support.system import System, running_system

NORTH = "north-shop.myshopify.com"
SOUTH = "south-shop.myshopify.com"


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path, "ingest", "customers") as running:
        yield running


async def _shop_has(system: System, shop_token: str, body: dict) -> None:
    async with system.sandbox() as sandbox:
        answer = await sandbox.post(f"/_sandbox/shopify/{shop_token}/orders", json=body)
        assert answer.status_code == 201, answer.text


async def test_reconciling_one_shop_never_files_another_shops_orders(system: System):
    """Two Shopify connections: reconciling `south` asks south's shop only. Before #12 it asked
    the one configured shop (north's) and filed north's orders as phantom orders of south."""
    ingest = system.apps["ingest"]
    south_token = f"shop-south-{uuid.uuid4().hex}"
    north = await ingest.put(
        "/connections/north",
        json={
            "platform": "shopify",
            "secrets": ["north-secret"],
            "settings": {"shop_domain": NORTH},
            "shop": {"admin_url": "http://sandbox/shopify", "admin_token": system.shop_token},
        },
    )
    assert north.status_code == 200, north.text
    south = await ingest.put(
        "/connections/south",
        json={
            "platform": "shopify",
            "secrets": ["south-secret"],
            "settings": {"shop_domain": SOUTH},
            "shop": {"admin_url": "http://sandbox/shopify", "admin_token": south_token},
        },
    )
    assert south.status_code == 200, south.text
    await _shop_has(
        system, system.shop_token, shopify_order(id=770001, updated_at="2026-11-23T08:00:00Z")
    )
    await _shop_has(
        system, south_token, shopify_order(id=770002, updated_at="2026-11-23T08:00:00Z")
    )

    answer = await ingest.post(
        "/connections/south/reconcile", params={"since": "2026-11-23T00:00:00Z"}
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["seen"], answer.json()["fed"]) == (1, 1)
    assert (await ingest.get(f"/orders/shopify:{SOUTH}:770002")).status_code == 200
    phantom = await ingest.get(f"/orders/shopify:{SOUTH}:770001")
    assert phantom.status_code == 404, "north's order was filed under south"
