"""CVR and EAN numbers as buyers type them, from a Shopify note attribute or a WooCommerce
order meta field, through all four services: one normalised number everywhere (the ledger
customer, the invoice's recipient, the e-invoice), and failures that name the shop field."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.platforms.factories import (
    shopify_json,
    shopify_order,
    woocommerce_headers,
    woocommerce_json,
    woocommerce_order,
)
from tests.support.system import System, running_system

WOO_SECRET = "woo-secret"


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


async def _book_shopify(system: System, **order) -> dict:
    body = shopify_json(
        shopify_order(lines=[{"sku": "MUG-BLACK", "title": "Mug", "price": "75.00"}], **order)
    )
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    return await system.wait_for_status(key, "booked", "failed")


async def test_ean_typed_with_spaces_is_booked_as_an_e_invoice(system: System):
    order = await _book_shopify(
        system,
        email="indkob@kommune.dk",
        company="Kommunen",
        note_attributes={"EAN": "579 0000 000005"},
    )
    assert order["status"] == "booked", order["status_reason"]
    ledger = await system.ledger_state()
    [customer] = ledger["customers"]
    assert customer["ean"] == "5790000000005"
    [invoice] = ledger["booked_invoices"]
    assert invoice["recipient"]["ean"] == "5790000000005"
    [sent] = ledger["sent_invoices"]
    assert sent["sendBy"] == "ean"
    assert sent["recipient"]["ean"] == "5790000000005"


async def test_woocommerce_cvr_and_ean_meta_as_in_the_docs(system: System):
    # The worked example of docs/customers-settings.md ("Passing CVR and EAN numbers").
    await system.apps["ingest"].put(
        "/connections/woo", json={"platform": "woocommerce", "secrets": [WOO_SECRET]}
    )
    body = woocommerce_order(
        lines=[{"sku": "MUG-BLACK", "quantity": 1, "price": "60.00"}],
        email="indkob@kommune.dk",
        company="Kommunen",
        meta_data={"_billing_cvr": "DK 12 34 56 74", "_billing_ean": "579-0000-000005"},
    )
    raw = woocommerce_json(body)
    answer = await system.apps["ingest"].post(
        "/webhooks/woocommerce/woo",
        content=raw,
        headers=woocommerce_headers("order.created", raw, WOO_SECRET),
    )
    order = await system.wait_for_status(answer.json()["order_key"], "booked", "failed")
    assert order["status"] == "booked", order["status_reason"]
    ledger = await system.ledger_state()
    [customer] = ledger["customers"]
    assert customer["corporateIdentificationNumber"] == "12345674"
    assert customer["ean"] == "5790000000005"
    [invoice] = ledger["booked_invoices"]
    assert invoice["recipient"]["ean"] == "5790000000005"


async def test_a_mistyped_ean_on_a_known_buyer_names_the_note_attribute(system: System):
    # The buyer is known by email, so finding the customer needs no EAN; the invoice does.
    first = await _book_shopify(system, email="indkob@kommune.dk", company="Kommunen")
    assert first["status"] == "booked", first["status_reason"]
    order = await _book_shopify(
        system,
        email="indkob@kommune.dk",
        company="Kommunen",
        note_attributes={"EAN": "579 0000 00000X"},
    )
    assert order["status"] == "failed"
    reason = order["status_reason"]
    assert "'579 0000 00000X'" in reason, reason
    assert "note attribute 'EAN'" in reason, reason
    assert "13 digits" in reason and "replay" in reason, reason
    assert len((await system.ledger_state())["drafts"]) == 0  # nothing half-made in e-conomic


async def test_a_ledger_refusal_of_a_shop_value_names_the_shop_field(system: System):
    too_long = "1456 " + "x" * 60  # e-conomic takes at most 50 characters of a zip code
    body = shopify_order(
        lines=[{"sku": "MUG-BLACK", "title": "Mug", "price": "75.00"}], email="zip@example.com"
    )
    body["billing_address"]["zip"] = too_long
    key = (await system.post_shopify("orders/paid", shopify_json(body))).json()["order_key"]
    order = await system.wait_for_status(key, "booked", "failed")
    assert order["status"] == "failed"
    reason = order["status_reason"]
    assert f"'{too_long}'" in reason, reason
    assert "billing address" in reason and "zip" in reason, reason
    assert "50 characters" in reason and "replay" in reason, reason


async def test_a_ledger_refusal_of_a_new_customer_names_the_shop_value(system: System):
    # e-conomic's vatNumber field takes 20 characters; this email address is longer.
    customers = system.apps["customers"]
    current = (await customers.get("/connections/demo/settings")).json()
    custom = {"ledger_field": "vatNumber", "shop_value": "email"}
    answer = await customers.put(
        "/connections/demo/settings", json={**current, "custom_field": custom}
    )
    assert answer.status_code == 200, answer.text
    order = await _book_shopify(system, email="indkoeb.afdeling@kommune.dk")
    assert order["status"] == "failed"
    reason = order["status_reason"]
    assert "email address 'indkoeb.afdeling@kommune.dk'" in reason, reason
    assert "20 characters" in reason and "replay" in reason, reason
