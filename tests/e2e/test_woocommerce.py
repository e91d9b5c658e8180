"""A WooCommerce shop end to end: a signed order.created/updated is booked once, and a refund
that WooCommerce only reports inside order.updated becomes one credit note."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from tests.platforms.factories import (
    woocommerce_headers,
    woocommerce_json,
    woocommerce_order,
)
from tests.support.system import System, running_system

SECRET = "woo-secret"


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        await running.apps["ingest"].put(
            "/connections/woo", json={"platform": "woocommerce", "secrets": [SECRET]}
        )
        await running.apps["invoicing"].put(
            "/connections/woo/settings", json={"refund_product": "WEB-DEFAULT"}
        )
        yield running


async def _post(system: System, topic: str, body: dict) -> dict:
    raw = woocommerce_json(body)
    answer = await system.apps["ingest"].post(
        "/webhooks/woocommerce/woo", content=raw, headers=woocommerce_headers(topic, raw, SECRET)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_woocommerce_order_is_booked_and_its_refund_credited_once(system: System):
    order = woocommerce_order(
        id=4711,
        lines=[{"sku": "TSHIRT-RED-M", "quantity": 2, "price": "120.00"}],
        email="woo@example.com",
    )
    key = (await _post(system, "order.created", order))["order_key"]
    assert key.startswith("woocommerce:") and key.endswith(":4711")
    booked = await system.wait_for_status(key, "booked")
    ledger = await system.ledger_state()
    [invoice] = ledger["booked_invoices"]
    assert Decimal(str(invoice["grossAmount"])) == Decimal(booked["total"])

    # WooCommerce reports a refund only as the order's new state; it may send it twice.
    refunded = {
        **order,
        "date_modified_gmt": "2025-03-01T12:00:00",
        "refunds": [{"id": 77, "reason": "damaged", "total": "-50.00"}],
    }
    await _post(system, "order.updated", refunded)
    await _post(system, "order.updated", {**refunded, "date_modified_gmt": "2025-03-01T12:00:01"})
    for _ in range(150):
        steps = [e["step"] for e in (await system.order(key))["timeline"]]
        if "creditnote.booked" in steps:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    notes = [
        i
        for i in (await system.ledger_state())["booked_invoices"]
        if Decimal(str(i["grossAmount"])) < 0
    ]
    assert len(notes) == 1
    assert Decimal(str(notes[0]["grossAmount"])) == Decimal("-50.00")
    assert notes[0]["references"]["other"] == f"{key}:refund:77"
