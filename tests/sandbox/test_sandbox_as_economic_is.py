"""Where e-conomic differs from what an integration would like, the sandbox differs too: the
booked-invoice list has no lines, a customer PUT replaces the whole record, accounting years are
not calendar years, and the journal's entries are what a lost voucher reply is found by."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from sandbox_support import assert_schema

from lb_sandbox.economic.accounting_years import set_accounting_years

CUSTOMER = {
    "name": "Jane Doe",
    "currency": "DKK",
    "customerGroup": {"customerGroupNumber": 1},
    "paymentTerms": {"paymentTermsNumber": 1},
    "vatZone": {"vatZoneNumber": 1},
}


def _draft(reference: str) -> dict[str, Any]:
    return {
        "date": "2026-05-03",
        "currency": "DKK",
        "customer": {"customerNumber": 1},
        "layout": {"layoutNumber": 21},
        "paymentTerms": {"paymentTermsNumber": 1},
        "recipient": {"name": "Jane Doe", "vatZone": {"vatZoneNumber": 1}},
        "references": {"other": reference},
        "lines": [{"product": {"productNumber": "MUG-BLACK"}, "quantity": 2, "unitNetPrice": 60}],
    }


def _payment(year: str, day: str, *, text: str = "Webshop order #1 [shop:1]") -> dict[str, Any]:
    return {
        "accountingYear": {"year": year},
        "journal": {"journalNumber": 1},
        "entries": {
            "customerPayments": [
                {
                    "customer": {"customerNumber": 1},
                    "contraAccount": {"accountNumber": 5820},
                    "amount": -150,
                    "date": day,
                    "text": text,
                }
            ]
        },
    }


async def test_booked_invoices_are_listed_without_their_lines(http: httpx.AsyncClient) -> None:
    await http.post("/economic/customers", json=CUSTOMER)
    await http.post("/economic/invoices/drafts", json=_draft("order-1"))
    await http.post("/economic/invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": 1}})

    listed = (
        await http.get(
            "/economic/invoices/booked", params={"filter": "references.other$eq:order-1"}
        )
    ).json()
    assert_schema("invoices.booked.get", listed)
    [item] = listed["collection"]
    assert "lines" not in item  # as invoices.booked.get.schema.json has it
    one = (await http.get("/economic/invoices/booked/1")).json()
    assert [line["product"]["productNumber"] for line in one["lines"]] == ["MUG-BLACK"]


async def test_a_customer_put_replaces_the_whole_record(http: httpx.AsyncClient) -> None:
    await http.post("/economic/customers", json=CUSTOMER)
    contact = await http.post("/economic/customers/1/contacts", json={"name": "Bo Bookkeeper"})
    place = await http.post("/economic/customers/1/delivery-locations", json={"address": "Vej 1"})
    assert contact.status_code == place.status_code == 201
    hand_set = {
        "attention": {"customerContactNumber": 1},
        "customerContact": {"customerContactNumber": 1},
        "salesPerson": {"employeeNumber": 3},
        "defaultDeliveryLocation": {"deliveryLocationNumber": 1},
        "city": "Aarhus",
    }
    set_by_hand = await http.put("/economic/customers/1", json={**CUSTOMER, **hand_set})
    assert set_by_hand.status_code == 200, set_by_hand.text
    stored = (await http.get("/economic/customers/1")).json()
    assert_schema("customers.customerNumber.get", stored)
    assert stored["attention"]["customerContactNumber"] == 1
    assert stored["salesPerson"]["employeeNumber"] == 3
    assert stored["defaultDeliveryLocation"]["deliveryLocationNumber"] == 1

    # A PUT of only the required fields clears every other one, as e-conomic does.
    await http.put("/economic/customers/1", json={**CUSTOMER, "name": "Jane D."})
    cleared = (await http.get("/economic/customers/1")).json()
    assert cleared["name"] == "Jane D."
    for key in ("attention", "customerContact", "salesPerson", "defaultDeliveryLocation", "city"):
        assert key not in cleared, key

    # A contact or delivery location the customer does not have is refused.
    wrong = await http.put(
        "/economic/customers/1", json={**CUSTOMER, "attention": {"customerContactNumber": 9}}
    )
    assert wrong.status_code == 400
    assert "attention" in wrong.json()["errors"]


async def test_accounting_years_are_named_by_the_years_they_span(
    app: Any, http: httpx.AsyncClient, grant_token: str
) -> None:
    await http.get("/economic/accounting-years")  # the agreement exists from here
    agreement = app.state.registry.find(grant_token)
    set_accounting_years(
        agreement,
        [
            (date(2025, 1, 1), date(2025, 6, 30), True),  # a short first year, closed
            (date(2025, 7, 1), date(2026, 6, 30), False),
            (date(2026, 7, 1), date(2027, 12, 31), False),  # 18 months
        ],
    )
    listed = (await http.get("/economic/accounting-years")).json()
    assert_schema("accounting-years.get", listed)
    assert [(y["year"], y.get("closed", False)) for y in listed["collection"]] == [
        ("2025", True),
        ("2025/2026", False),
        ("2026/2027", False),
    ]
    holding = await http.get(
        "/economic/accounting-years",
        params={"filter": "fromDate$lte:2026-03-01$and:toDate$gte:2026-03-01"},
    )
    assert [y["year"] for y in holding.json()["collection"]] == ["2025/2026"]


async def test_vouchers_post_only_into_an_open_year_that_holds_their_dates(
    app: Any, http: httpx.AsyncClient, grant_token: str
) -> None:
    await http.post("/economic/customers", json=CUSTOMER)
    agreement = app.state.registry.find(grant_token)
    set_accounting_years(
        agreement,
        [(date(2025, 1, 1), date(2025, 6, 30), True), (date(2025, 7, 1), date(2026, 6, 30), False)],
    )

    calendar_year = await http.post(
        "/economic/journals/1/vouchers", json=_payment("2026", "2026-03-01")
    )
    assert calendar_year.status_code == 400
    error = calendar_year.json()
    assert error["errors"]["accountingYear"]["errors"][0]["errorCode"] == "E06000"
    assert set(error) >= {"message", "developerHint", "logId", "httpStatusCode", "logTime"}

    closed = await http.post("/economic/journals/1/vouchers", json=_payment("2025", "2025-03-01"))
    assert closed.status_code == 400
    assert "closed" in closed.json()["errors"]["accountingYear"]["errors"][0]["message"]

    outside = await http.post(
        "/economic/journals/1/vouchers", json=_payment("2025/2026", "2026-07-01")
    )
    assert outside.status_code == 400
    [entry_error] = outside.json()["errors"]["entries"]["customerPayments"]
    assert entry_error["arrayIndex"] == 0 and "date" in entry_error

    posted = await http.post(
        "/economic/journals/1/vouchers", json=_payment("2025/2026", "2026-03-01")
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()[0]["accountingYear"]["year"] == "2025/2026"


async def test_the_journals_entries_are_found_by_their_text(http: httpx.AsyncClient) -> None:
    await http.post("/economic/customers", json=CUSTOMER)
    for text in ("Webshop order #1 [shop:1]", "Webshop order #11 [shop:11]"):
        answer = await http.post(
            "/economic/journals/1/vouchers", json=_payment("2026", "2026-03-01", text=text)
        )
        assert answer.status_code == 201, answer.text

    found = await http.get(
        "/economic/journals/1/entries", params={"filter": "text$like:$[shop:1$]"}
    )
    assert found.status_code == 200, found.text
    assert_schema("journals.journalNumber.entries.get", found.json())
    [entry] = found.json()["collection"]
    assert entry["text"] == "Webshop order #1 [shop:1]"
    assert entry["voucher"]["accountingYear"]["year"] == "2026"
    assert entry["voucher"]["voucherNumber"] == 1
    assert (await http.get("/economic/journals/7/entries")).status_code == 404
