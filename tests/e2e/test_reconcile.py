"""Reconciliation: orders whose webhooks were lost reach the ledger through the shop's Admin
API (the sandbox's Shopify emulation), once, and never replace a newer version we hold."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from tests.e2e.test_credit_notes import REFUND_DATA, vnd_order
from tests.platforms.factories import SHOPIFY_SHOP, shopify_json, shopify_order
from tests.support.system import System, running_system

MUG = [{"sku": "MUG-BLACK", "title": "Mug"}]


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


async def _shop_has(system: System, body: dict) -> None:
    async with system.sandbox() as sandbox:
        answer = await sandbox.post(f"/_sandbox/shopify/{system.shop_token}/orders", json=body)
        assert answer.status_code == 201, answer.text


async def test_missed_orders_are_fetched_once_and_newer_versions_kept(system: System):
    ingest = system.apps["ingest"]
    refused = await ingest.post("/connections/demo/reconcile")
    assert refused.status_code == 409 and "shop_domain" in refused.json()["detail"]
    # The refusal is the connection's last reconciliation (the console's overview shows it).
    [kept] = (await ingest.get("/reconciliations")).json()
    assert kept["connection"] == "demo" and kept["ok"] is False
    assert kept["detail"] == refused.json()["detail"] and kept["last_completed_at"] is None
    await ingest.put(
        "/connections/demo",
        json={"platform": "shopify", "settings": {"shop_domain": SHOPIFY_SHOP}},
    )

    lost = shopify_order(
        id=990001, email="lost@example.com", updated_at="2026-11-23T08:00:00Z", lines=MUG
    )
    known_old = shopify_order(
        id=990002,
        email="known@example.com",
        financial_status="pending",
        updated_at="2026-11-23T08:00:00Z",
    )
    # The shop holds the lost order, and an older version of one we got by webhook later on.
    await _shop_has(system, lost)
    await _shop_has(system, known_old)
    newer = {**known_old, "financial_status": "paid", "updated_at": "2026-11-23T09:00:00Z"}
    await system.post_shopify("orders/paid", shopify_json(newer))

    first = (
        await ingest.post("/connections/demo/reconcile", params={"since": "2026-11-23T00:00:00Z"})
    ).json()
    assert (first["seen"], first["fed"], first["unchanged"]) == (2, 1, 1)
    [kept] = (await ingest.get("/reconciliations")).json()
    assert kept["ok"] is True and kept["last_completed_at"] is not None
    assert kept["detail"] == "2 orders seen in the shop, 1 fed, 1 unchanged, 0 unreadable"
    lost_key = f"shopify:{SHOPIFY_SHOP}:990001"
    order = await system.wait_for_status(lost_key, "booked")
    assert order["deliveries"][0]["topic"] == "reconcile/orders"
    known = await system.order(f"shopify:{SHOPIFY_SHOP}:990002")
    assert known["version"].startswith("2026-11-23T09:00:00")  # the webhook's newer version

    again = (
        await ingest.post("/connections/demo/reconcile", params={"since": "2026-11-23T00:00:00Z"})
    ).json()
    assert again["fed"] == 0
    ledger = await system.ledger_state()
    invoices = [i["references"]["other"] for i in ledger["booked_invoices"]]
    assert invoices.count(lost_key) == 1


async def test_a_refund_whose_webhook_was_lost_is_credited_by_reconciliation(system: System):
    """The refund reaches us inside its order, read back through the GraphQL Admin API (refunds
    read one by one), and becomes its credit note once."""
    ingest = system.apps["ingest"]
    await ingest.put(
        "/connections/demo",
        json={"platform": "shopify", "settings": {"shop_domain": SHOPIFY_SHOP}},
    )
    order = json.loads(vnd_order(updated_at="2026-11-23T08:00:00Z"))
    key = (await system.post_shopify("orders/paid", shopify_json(order))).json()["order_key"]
    await system.wait_for_status(key, "booked")
    # Refunded in the shop; refunds/create and orders/updated never arrived.
    refund = {**REFUND_DATA, "created_at": "2026-11-23T09:00:00Z"}
    await _shop_has(system, {**order, "updated_at": "2026-11-23T09:00:00Z", "refunds": [refund]})

    result = (
        await ingest.post("/connections/demo/reconcile", params={"since": "2026-11-23T00:00:00Z"})
    ).json()
    assert (result["seen"], result["fed"], result["unreadable"]) == (1, 1, 0)
    await system.wait_for_status(key, "partly_credited")
    again = (
        await ingest.post("/connections/demo/reconcile", params={"since": "2026-11-23T00:00:00Z"})
    ).json()
    assert again["fed"] == 0
    ledger = await system.ledger_state()
    notes = [i for i in ledger["booked_invoices"] if Decimal(str(i["grossAmount"])) < 0]
    assert [n["references"]["other"] for n in notes] == [f"{key}:refund:{REFUND_DATA['id']}"]
    assert Decimal(str(notes[0]["grossAmount"])) == Decimal("-20")
