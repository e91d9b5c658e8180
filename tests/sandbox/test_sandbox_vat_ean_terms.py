"""The sandbox as strict as e-conomic on VAT (product group → sales account per zone → VAT code →
rate), EAN preconditions, payment terms of type dueDate and journals restricted to one entry
type. Sources: docs/sandbox.md."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
from sandbox_support import assert_schema

from lb_sandbox.economic.vat import oss_group_number

CUSTOMER = {
    "name": "Jane Doe",
    "currency": "DKK",
    "customerGroup": {"customerGroupNumber": 1},
    "paymentTerms": {"paymentTermsNumber": 1},
    "vatZone": {"vatZoneNumber": 1},
}


def _json(response: httpx.Response) -> Any:
    return json.loads(response.content, parse_float=Decimal)


def _draft(customer: int, zone: int, *lines: tuple[str, int, str], **extra: Any) -> dict:
    return {
        "date": "2026-05-03",
        "currency": "DKK",
        "customer": {"customerNumber": customer},
        "layout": {"layoutNumber": 21},
        "paymentTerms": {"paymentTermsNumber": 1},
        "recipient": {"name": "Jane Doe", "vatZone": {"vatZoneNumber": zone}},
        "lines": [
            {"product": {"productNumber": p}, "quantity": q, "unitNetPrice": Decimal(price)}
            for p, q, price in lines
        ],
        **extra,
    }


async def _post(http: httpx.AsyncClient, path: str, body: dict) -> httpx.Response:
    from lb_connectors.economic import jsoncodec

    return await http.post(
        path, content=jsoncodec.dumps(body), headers={"Content-Type": "application/json"}
    )


async def _customer(http: httpx.AsyncClient, **fields: Any) -> int:
    created = await _post(http, "/economic/customers", {**CUSTOMER, **fields})
    assert created.status_code == 201, created.text
    return int(created.json()["customerNumber"])


async def _oss_product(http: httpx.AsyncClient, number: str, country: str) -> None:
    created = await _post(
        http,
        "/economic/products",
        {
            "productNumber": number,
            "name": f"Webshop sale {country}",
            "productGroup": {"productGroupNumber": oss_group_number(country)},
        },
    )
    assert created.status_code == 201, created.text


async def test_vat_comes_from_the_group_account_and_code_per_zone(http: httpx.AsyncClient) -> None:
    customer = await _customer(http)
    await _oss_product(http, "OSS-DE", "DE")
    figures = {}
    for zone in (1, 2, 3, 4):
        made = await _post(
            http, "/economic/invoices/drafts", _draft(customer, zone, ("MUG-BLACK", 2, "50.00"))
        )
        assert made.status_code == 201, made.text
        figures[zone] = _json(made)["vatAmount"]
    # Domestic U25; EU reverse charge UEUV 0 %; abroad ABR 0 %; the exempt zone's account has no
    # VAT code. A flat "25 % in zone 1" would pass this too: the OSS line below would not.
    assert figures == {1: 25, 2: 0, 3: 0, 4: 0}
    mixed = await _post(
        http,
        "/economic/invoices/drafts",
        _draft(customer, 1, ("MUG-BLACK", 1, "100.00"), ("OSS-DE", 1, "100.00")),
    )
    assert _json(mixed)["vatAmount"] == Decimal("44.00")  # 25.00 + 19.00 (DE19)
    booked = await _post(
        http,
        "/economic/invoices/booked",
        {"draftInvoice": {"draftInvoiceNumber": mixed.json()["draftInvoiceNumber"]}},
    )
    lines = _json(booked)["lines"]
    assert [(line["vatRate"], line["vatAmount"]) for line in lines] == [(25, 25), (19, 19)]
    assert_schema("invoices.booked.bookedInvoiceNumber.get", booked.json())


async def test_vat_setup_reads_match_the_schemas(http: httpx.AsyncClient) -> None:
    codes = (await http.get("/economic/vat-accounts")).json()
    assert_schema("vat-accounts.get", codes)
    by_code = {c["vatCode"]: c["ratePercentage"] for c in codes["collection"]}
    assert by_code["U25"] == 25 and by_code["UEUV"] == 0 and by_code["DE19"] == 19
    assert by_code["FI255"] == 25.5
    one = (await http.get("/economic/vat-accounts/U25")).json()
    assert_schema("vat-accounts.id.get", one)
    sales = (await http.get("/economic/product-groups/1/sales-accounts")).json()
    assert_schema("product-groups.productGroupNumber.sales-accounts.get", sales)
    assert {
        s["vatZone"]["vatZoneNumber"]: s["salesAccount"].get("vatAccount", {}).get("vatCode")
        for s in sales["collection"]
    } == {1: "U25", 2: "UEUV", 3: "ABR", 4: None}
    group = (await http.get("/economic/product-groups/1")).json()
    assert_schema("product-groups.productGroupNumber.get", group)
    assert group["salesAccounts"].endswith("/product-groups/1/sales-accounts")
    assert_schema("self.get", (await http.get("/economic/self")).json())
    assert_schema("journals.get", (await http.get("/economic/journals")).json())


async def test_a_group_without_an_account_for_the_zone_refuses_the_line(
    app: Any, http: httpx.AsyncClient, grant_token: str
) -> None:
    customer = await _customer(http)
    made = await _post(
        http, "/economic/invoices/drafts", _draft(customer, 3, ("MUG-BLACK", 1, "10.00"))
    )
    agreement = app.state.registry.find(grant_token)
    del agreement.sales_accounts[1][3]  # a bookkeeper's group that books nothing abroad
    number = made.json()["draftInvoiceNumber"]
    booking = await _post(
        http, "/economic/invoices/booked", {"draftInvoice": {"draftInvoiceNumber": number}}
    )
    assert booking.status_code == 400, booking.text  # refused, not booked (nor a 500)
    refused = await _post(
        http, "/economic/invoices/drafts", _draft(customer, 3, ("MUG-BLACK", 1, "10.00"))
    )
    assert refused.status_code == 400
    [error] = refused.json()["errors"]["lines"][0]["product"]["errors"]
    assert "no sales account for VAT zone 3" in error["message"]


async def test_due_date_terms_need_a_due_date_not_before_the_date(http: httpx.AsyncClient) -> None:
    customer = await _customer(http)
    terms = {"paymentTerms": {"paymentTermsNumber": 2}}  # type dueDate
    missing = await _post(
        http, "/economic/invoices/drafts", _draft(customer, 1, ("MUG-BLACK", 1, "10"), **terms)
    )
    assert missing.status_code == 400
    assert missing.json()["errors"]["dueDate"]["errors"][0]["errorCode"] == "E04042"
    early = await _post(
        http,
        "/economic/invoices/drafts",
        _draft(customer, 1, ("MUG-BLACK", 1, "10"), dueDate="2026-05-02", **terms),
    )
    assert early.json()["errors"]["dueDate"]["errors"][0]["errorCode"] == "E04760"
    kept = await _post(
        http,
        "/economic/invoices/drafts",
        _draft(customer, 1, ("MUG-BLACK", 1, "10"), dueDate="2026-06-01", **terms),
    )
    assert kept.status_code == 201 and kept.json()["dueDate"] == "2026-06-01"
    # Net terms derive it (8 days) and ignore what was sent.
    net = await _post(
        http,
        "/economic/invoices/drafts",
        _draft(customer, 1, ("MUG-BLACK", 1, "10"), dueDate="2026-12-24"),
    )
    assert net.json()["dueDate"] == "2026-05-11"


async def test_journals_take_only_their_entry_type(http: httpx.AsyncClient) -> None:
    customer = await _customer(http)
    payment = {
        "customer": {"customerNumber": customer},
        "contraAccount": {"accountNumber": 5820},
        "amount": Decimal("-10.00"),
        "date": "2026-05-03",
    }
    finance = {
        "account": {"accountNumber": 5820},
        "contraAccount": {"accountNumber": 1010},
        "amount": Decimal("10.00"),
        "date": "2026-05-03",
    }
    year = {"accountingYear": {"year": "2026"}}
    refused = await _post(
        http, "/economic/journals/3/vouchers", {**year, "entries": {"customerPayments": [payment]}}
    )
    assert refused.status_code == 400
    message = refused.json()["errors"]["entries"]["customerPayments"]["errors"][0]["message"]
    assert "only accepts entries of type financeVoucher" in message
    refused = await _post(
        http, "/economic/journals/2/vouchers", {**year, "entries": {"financeVouchers": [finance]}}
    )
    assert refused.status_code == 400
    taken = await _post(
        http, "/economic/journals/2/vouchers", {**year, "entries": {"customerPayments": [payment]}}
    )
    assert taken.status_code == 201, taken.text
    journal = (await http.get("/economic/journals/2")).json()
    assert journal["settings"]["entryTypeRestrictedTo"] == "customerPayment"


async def _ean_draft(http: httpx.AsyncClient, customer: int, contact: int | None) -> int:
    recipient: dict[str, Any] = {
        "name": "Kommunen",
        "vatZone": {"vatZoneNumber": 1},
        "ean": "5790000000005",
    }
    if contact is not None:
        recipient["attention"] = {"customerContactNumber": contact}
    made = await _post(
        http,
        "/economic/invoices/drafts",
        {**_draft(customer, 1, ("MUG-BLACK", 1, "10.00")), "recipient": recipient},
    )
    assert made.status_code == 201, made.text
    return int(made.json()["draftInvoiceNumber"])


async def _book_ean(http: httpx.AsyncClient, draft: int) -> httpx.Response:
    return await _post(
        http,
        "/economic/invoices/booked",
        {"draftInvoice": {"draftInvoiceNumber": draft}, "sendBy": "EAN"},
    )


async def test_ean_needs_the_customers_ean_and_contact_and_the_agreements_cvr(
    http: httpx.AsyncClient,
) -> None:
    bare = await _customer(http)
    # No EAN and no contact person on the customer: refused, though the recipient has an EAN.
    refused = await _book_ean(http, await _ean_draft(http, bare, None))
    assert refused.status_code == 400
    errors = refused.json()["errors"]
    assert "no valid EAN" in errors["customer"]["ean"]["errors"][0]["message"]
    assert "no contact person" in errors["customer"]["contacts"]["errors"][0]["message"]
    assert "recipient" in errors  # and none on the invoice (recipient.attention)
    customer = await _customer(http, ean="5790000000005")
    contact = await _post(http, f"/economic/customers/{customer}/contacts", {"name": "Indkøb"})
    assert contact.status_code == 201, contact.text
    number = contact.json()["customerContactNumber"]
    draft = await _ean_draft(http, customer, number)
    # The agreement's CVR removed (PUT /self/company replaces the company): refused.
    company = {
        "name": "Demo Webshop ApS", "addressLine1": "Vestergade 1", "zip": "8000",
        "city": "Aarhus C", "phoneNumber": "12345678", "attention": "Bo", "email": "a@b.dk",
    }  # fmt: skip
    assert (await http.put("/economic/self/company", json=company)).status_code == 200
    assert "canSendElectronicInvoice" not in (await http.get("/economic/self")).json()
    refused = await _book_ean(http, draft)
    assert refused.status_code == 400
    assert "no CVR number" in refused.json()["errors"]["sendBy"]["errors"][0]["message"]
    company["companyIdentificationNumber"] = "12345674"
    await http.put("/economic/self/company", json=company)
    booked = await _book_ean(http, draft)
    assert booked.status_code == 201, booked.text
    sent = (await http.get("/economic/invoices/sent")).json()["collection"]
    assert [s["sendBy"] for s in sent] == ["ean"]
