"""Invoicing in the buyer's (presentment) currency: a DKK shop, a buyer paying in EUR."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from tests.platforms.factories import shopify_json, shopify_order, with_presentment
from tests.support.system import System, running_system


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


def eur_order(**changes: Any) -> bytes:
    # 2 × 100.00 + 50.00 shipping = 250.00 DKK incl. 25 % VAT; × 0.134 = 33.50 EUR.
    body = shopify_order(
        lines=[{"sku": "MUG-BLACK", "title": "Mug", "price": "100.00", "quantity": 2}],
        shipping="50.00",
        email="euro@example.com",
        **changes,
    )
    return shopify_json(with_presentment(body, "EUR", "0.134"))


async def _use_amounts(system: System, amounts: str) -> None:
    invoicing = system.apps["invoicing"]
    settings = (await invoicing.get("/connections/demo/settings")).json()
    put = await invoicing.put("/connections/demo/settings", json={**settings, "amounts": amounts})
    assert put.status_code == 200, put.text


def _invoices(ledger: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in ledger["booked_invoices"] if Decimal(str(i["grossAmount"])) > 0]


async def test_invoice_in_presentment_currency(system: System):
    await _use_amounts(system, "presentment")
    key = (await system.post_shopify("orders/paid", eur_order())).json()["order_key"]
    await system.wait_for_status(key, "booked")

    [invoice] = _invoices(await system.ledger_state())
    assert invoice["currency"] == "EUR"
    assert Decimal(str(invoice["grossAmount"])) == Decimal("33.50")
    assert Decimal(str(invoice["vatAmount"])) == Decimal("6.70")
    assert invoice["references"]["other"] == key


async def test_shop_currency_stays_the_default(system: System):
    key = (await system.post_shopify("orders/paid", eur_order())).json()["order_key"]
    await system.wait_for_status(key, "booked")

    [invoice] = _invoices(await system.ledger_state())
    assert invoice["currency"] == "DKK"
    assert Decimal(str(invoice["grossAmount"])) == Decimal("250.00")


async def test_cancelling_a_presentment_invoice_credits_it_in_its_currency(system: System):
    await _use_amounts(system, "presentment")
    body = eur_order()
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    await system.wait_for_status(key, "booked")

    cancelled = json.loads(body)
    cancelled.update(
        cancelled_at="2025-03-02T09:00:00Z",
        updated_at="2025-03-02T09:00:00Z",
        financial_status="refunded",
    )
    await system.post_shopify("orders/cancelled", shopify_json(cancelled))
    for _ in range(150):
        ledger = await system.ledger_state()
        notes = [i for i in ledger["booked_invoices"] if Decimal(str(i["grossAmount"])) < 0]
        if notes:
            break
        await asyncio.sleep(0.1)
    [note] = notes
    assert note["currency"] == "EUR"
    assert Decimal(str(note["grossAmount"])) == Decimal("-33.50")
