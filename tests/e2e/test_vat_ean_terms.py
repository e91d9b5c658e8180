"""Through all four services against the sandbox as strict as e-conomic: VAT by the ledger's own
setup (routes per treatment and rate, a difference shown with both figures and the VAT code),
e-invoices that meet e-conomic's preconditions (credit notes included), payment terms of type
dueDate, and journals that take one entry type only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from lb_sandbox.economic.vat import oss_group_number
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.system import System, running_system

GERMANY = {
    "first_name": "Lena", "last_name": "Weber", "name": "Lena Weber",
    "address1": "Hauptstraße 5", "city": "Berlin", "zip": "10115", "country": "Germany",
    "country_code": "DE",
}  # fmt: skip
EAN = {"EAN": "5790000000005"}


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


async def _settings(system: System, **changes: Any) -> None:
    invoicing = system.apps["invoicing"]
    current = (await invoicing.get("/connections/demo/settings")).json()
    answer = await invoicing.put("/connections/demo/settings", json={**current, **changes})
    assert answer.status_code == 200, answer.text


async def _economic(system: System, method: str, path: str, body: Any) -> Any:
    headers = {"X-AppSecretToken": "app", "X-AgreementGrantToken": system.grant}
    async with system.sandbox() as sandbox:
        answer = await sandbox.request(method, f"/economic{path}", json=body, headers=headers)
    assert answer.is_success, answer.text
    return answer.json()


async def _order(system: System, *, status: str = "booked", **order: Any) -> dict[str, Any]:
    body = shopify_json(shopify_order(**order))
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    return await system.wait_for_status(key, status, "failed" if status == "booked" else "booked")


def _german_mugs() -> dict[str, Any]:
    return {
        "lines": [{"sku": "MUG-BLACK", "title": "Mug", "price": "119.00", "quantity": 2}],
        "tax_rate": "0.19",
        "email": "lena@example.de",
        "billing_address": GERMANY,
        "shipping_address": GERMANY,
    }


async def test_an_eu_consumer_is_invoiced_at_her_countrys_rate_on_the_routed_product(
    system: System,
):
    # The bookkeeper's OSS product for Germany, in the group whose account carries DE19.
    await _economic(
        system,
        "POST",
        "/products",
        {
            "productNumber": "OSS-DE",
            "name": "Webshop sale, Germany (OSS)",
            "productGroup": {"productGroupNumber": oss_group_number("DE")},
        },
    )
    await _settings(
        system,
        vat_routes=[{"treatment": "eu_oss", "country": "DE", "rate": "0.19", "product": "OSS-DE"}],
    )
    order = await _order(system, **_german_mugs())
    assert order["status"] == "booked", order["status_reason"]
    [invoice] = (await system.ledger_state())["booked_invoices"]
    assert Decimal(str(invoice["vatAmount"])) == Decimal("38.00")  # 19 % of 200.00
    assert Decimal(str(invoice["grossAmount"])) == Decimal("238.00")
    assert [(line["product"]["productNumber"], line["vatRate"]) for line in invoice["lines"]] == [
        ("OSS-DE", 19)
    ]
    drafted = next(e for e in order["timeline"] if e["step"] == "invoice.drafted")
    assert any("booked on product OSS-DE" in note for note in drafted["details"]["notes"])


async def test_without_a_route_the_difference_gives_both_figures_and_the_ledgers_vat_code(
    system: System,
):
    order = await _order(system, status="failed", **_german_mugs())
    reason = order["status_reason"]
    # The shop's 19 % against the 25 % e-conomic takes from group 1's Domestic account (the
    # buyer, a consumer, is in the Domestic zone under OSS).
    assert "DKK 38.00" in reason and "DKK 50.00" in reason, reason
    assert "'Mug': the shop charged DKK 38.00 VAT on DKK 200.00, e-conomic calculates" in reason
    assert (
        "product MUG-BLACK is in product group 1, whose sales account 1100 for VAT zone 1 has "
        "VAT code U25 (25%)" in reason
    ), reason
    ledger = await system.ledger_state()
    assert ledger["booked_invoices"] == []
    # The draft left for a bookkeeper is recorded (a booked one gets its step with the booking):
    # step drafted with its number, and its timeline entry before the failure.
    [draft] = ledger["drafts"]
    link = (await system.apps["invoicing"].get(f"/invoices/{order['order_key']}")).json()
    assert (link["step"], link["draft_invoice_number"]) == ("drafted", draft["draftInvoiceNumber"])
    # The entry comes through invoicing's outbox, the failure by another path: it may arrive
    # after the status it preceded.
    await system.wait_for_steps(order["order_key"], "invoice.drafted")


async def test_an_e_invoice_without_the_agreements_cvr_stops_before_anything_is_drafted(
    system: System,
):
    company = {
        "name": "Demo Webshop ApS", "addressLine1": "Vestergade 1", "zip": "8000",
        "city": "Aarhus C", "phoneNumber": "12345678", "attention": "Bo", "email": "a@b.dk",
    }  # fmt: skip
    await _economic(system, "PUT", "/self/company", company)
    order = await _order(
        system,
        status="failed",
        lines=[{"sku": "MUG-BLACK", "title": "Mug", "price": "75.00"}],
        email="indkob@kommune.dk",
        company="Kommunen",
        note_attributes=EAN,
    )
    assert "agreement has no CVR number" in order["status_reason"], order["status_reason"]
    assert "Nothing was drafted" in order["status_reason"]
    ledger = await system.ledger_state()
    assert ledger["drafts"] == [] and ledger["booked_invoices"] == []


async def test_a_credit_note_to_an_ean_customer_is_sent_by_ean_too(system: System):
    order_body = shopify_order(
        lines=[{"sku": "MUG-BLACK", "title": "Mug", "price": "75.00"}],
        email="indkob@kommune.dk",
        company="Kommunen",
        note_attributes=EAN,
    )
    key = (await system.post_shopify("orders/paid", shopify_json(order_body))).json()["order_key"]
    booked = await system.wait_for_status(key, "booked", "failed")
    assert booked["status"] == "booked", booked["status_reason"]
    cancelled = {
        **order_body,
        "cancelled_at": "2025-03-02T09:00:00Z",
        "updated_at": "2025-03-02T09:00:00Z",
        "financial_status": "refunded",
    }
    await system.post_shopify("orders/cancelled", shopify_json(cancelled))
    await system.wait_for_status(key, "credited", "credit_failed")
    ledger = await system.ledger_state()
    invoice, credit_note = sorted(ledger["booked_invoices"], key=lambda i: i["bookedInvoiceNumber"])
    assert Decimal(str(credit_note["grossAmount"])) < 0
    assert credit_note["recipient"]["ean"] == "5790000000005"
    sent = {s["invoice"]["bookedInvoiceNumber"]: s["sendBy"] for s in ledger["sent_invoices"]}
    assert sent == {
        invoice["bookedInvoiceNumber"]: "ean",
        credit_note["bookedInvoiceNumber"]: "ean",
    }


async def test_payment_terms_of_type_due_date_get_a_due_date(system: System):
    await _settings(system, payment_terms=2, due_days=14)  # sandbox seed: type dueDate
    order = await _order(system, lines=[{"sku": "MUG-BLACK", "title": "Mug"}])
    assert order["status"] == "booked", order["status_reason"]
    [invoice] = (await system.ledger_state())["booked_invoices"]
    assert invoice["paymentTerms"]["paymentTermsType"] == "dueDate"
    assert invoice["date"] == "2025-03-01" and invoice["dueDate"] == "2025-03-15"


async def test_a_payment_for_a_journal_of_finance_vouchers_only_names_the_journals_that_take_it(
    system: System,
):
    await _settings(system, payment_registration={"journal": 3, "contra_account": 5820})
    body = shopify_json(shopify_order(lines=[{"sku": "MUG-BLACK", "title": "Mug"}]))
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    for _ in range(100):  # booked first, then the payment step fails
        order = await system.order(key)
        if order["status"] == "failed" and order["progress"] == "booked":
            break
        await asyncio.sleep(0.1)
    reason = order["status_reason"]
    assert "Journal 3 ('Finans') takes only entries of type financeVoucher" in reason, reason
    assert "1 ('Webshop'), 2 ('Indbetalinger')" in reason
    ledger = await system.ledger_state()
    assert ledger["vouchers"] == [] and len(ledger["booked_invoices"]) == 1
