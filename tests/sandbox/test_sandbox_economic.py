"""The sandbox speaks e-conomic's shapes: checked against e-conomic's own schemas."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
from sandbox_support import assert_schema

CUSTOMER = {
    "name": "Jane Doe",
    "currency": "DKK",
    "customerGroup": {"customerGroupNumber": 1},
    "paymentTerms": {"paymentTermsNumber": 1},
    "vatZone": {"vatZoneNumber": 1},
}


def draft(customer: int, reference: str, **line: Any) -> dict[str, Any]:
    return {
        "date": "2026-05-03",
        "currency": "DKK",
        "customer": {"customerNumber": customer},
        "layout": {"layoutNumber": 21},
        "paymentTerms": {"paymentTermsNumber": 1},
        "recipient": {"name": "Jane Doe", "vatZone": {"vatZoneNumber": 1}},
        "references": {"other": reference},
        "lines": [
            {"product": {"productNumber": "MUG-BLACK"}, "quantity": 3, "unitNetPrice": 60, **line}
        ],
    }


def decimal_json(response: httpx.Response) -> Any:
    return json.loads(response.content, parse_float=Decimal)


async def test_401_without_tokens(app: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test"
    ) as bare:
        response = await bare.get("/economic/customers")
        empty = await bare.get(
            "/economic/customers", headers={"X-AppSecretToken": "", "X-AgreementGrantToken": ""}
        )
    assert response.status_code == 401 and empty.status_code == 401
    body = response.json()
    assert set(body) >= {"message", "developerHint", "logId", "httpStatusCode", "logTime"}
    assert body["httpStatusCode"] == 401


async def test_collections_match_schemas(http: httpx.AsyncClient) -> None:
    for path, schema in (
        ("/economic/vat-zones", "vat-zones.get"),
        ("/economic/payment-terms", "payment-terms.get"),
        ("/economic/customer-groups", "customer-groups.get"),
        ("/economic/layouts", "layouts.get"),
        ("/economic/products", "products.get"),
    ):
        response = await http.get(path)
        assert response.status_code == 200, path
        assert_schema(schema, response.json())
    product = await http.get("/economic/products/TSHIRT-RED-M")
    assert_schema("products.productNumber.get", product.json())
    assert decimal_json(product)["inventory"]["inStock"] == 50
    currencies = (await http.get("/economic/currencies")).json()["collection"]
    assert [c["code"] for c in currencies] == [
        "DKK",
        "EUR",
        "GBP",
        "HKD",
        "NOK",
        "SEK",
        "USD",
        "VND",
    ]


async def test_customer_create_location_and_pagination_envelope(http: httpx.AsyncClient) -> None:
    for i in range(5):
        created = await http.post("/economic/customers", json={**CUSTOMER, "name": f"C{i}"})
        assert created.status_code == 201
        assert created.headers["Location"].endswith(f"/economic/customers/{i + 1}")
        assert_schema("customers.customerNumber.get", created.json())
    page = (await http.get("/economic/customers", params={"skippages": 1, "pagesize": 2})).json()
    assert_schema("customers.get", page)
    pagination = page["pagination"]
    assert [c["customerNumber"] for c in page["collection"]] == [3, 4]
    assert pagination["results"] == 5 and pagination["maxPageSizeAllowed"] == 1000
    assert "skippages=2" in pagination["nextPage"] and "skippages=2" in pagination["lastPage"]
    last = (await http.get("/economic/customers", params={"skippages": 2, "pagesize": 2})).json()
    assert "nextPage" not in last["pagination"]


async def test_null_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.post("/economic/customers", json={**CUSTOMER, "address": None})
    assert response.status_code == 400
    assert "address" in response.json()["errors"]


async def test_non_filterable_field_lists_allowed_fields(http: httpx.AsyncClient) -> None:
    response = await http.get("/economic/customers", params={"filter": "bogusProp$eq:1"})
    body = response.json()
    assert response.status_code == 400
    assert body["errors"] == ["Filtering is not allowed on property 'bogusProp'."]
    assert "customerNumber" in body["allowedFilteringFields"]
    products = await http.get("/economic/products", params={"filter": "inventory.inStock$gt:1"})
    assert products.status_code == 400


async def test_filter_operators(http: httpx.AsyncClient) -> None:
    for i, city in enumerate(["Odense", "Aarhus", "Kolding", "Esbjerg"]):
        await http.post("/economic/customers", json={**CUSTOMER, "name": f"N{i}", "city": city})

    async def names(expression: str) -> list[str]:
        response = await http.get("/economic/customers", params={"filter": expression})
        assert response.status_code == 200, response.text
        return [c["name"] for c in response.json()["collection"]]

    assert await names("customerNumber$in:[1,3]") == ["N0", "N2"]
    assert await names("customerNumber$nin:[1,3]") == ["N1", "N3"]
    assert await names("city$like:*ing$or:(customerNumber$gte:4$and:city$ne:x)") == ["N2", "N3"]
    assert await names("city$like:ARH") == ["N1"]
    assert await names("email$eq:$null:$and:customerNumber$lt:2") == ["N0"]
    bad = await http.get("/economic/customers", params={"filter": "city$eq:(oops"})
    assert bad.status_code == 200  # `(` inside a value is literal text, not a group
    broken = await http.get("/economic/customers", params={"filter": "(city$eq:x"})
    assert broken.status_code == 400


async def test_draft_validation_errors_are_annotated(http: httpx.AsyncClient) -> None:
    await http.post("/economic/customers", json=CUSTOMER)
    body = draft(1, "r", unitNetPrice=10.12345)
    body["lines"].append({"description": "no product", "quantity": 1})
    body["lines"].append({"product": {"productNumber": "NOPE"}, "quantity": 1})
    del body["layout"]
    body["currency"] = "ZUL"
    response = await http.post("/economic/invoices/drafts", json=body)
    errors = response.json()["errors"]
    assert response.status_code == 400
    assert errors["currency"]["errors"][0]["errorCode"] == "E06000"
    assert "layout" in errors
    by_index = {item["arrayIndex"]: item for item in errors["lines"]}
    assert by_index[0]["unitNetPrice"]["errors"][0]["errorCode"] == "E04740"
    assert by_index[1]["product"]["errors"][0]["errorCode"] == "E04500"
    assert by_index[2]["product"]["errors"][0]["errorCode"] == "E06000"


async def test_draft_and_booked_documents_match_schemas(http: httpx.AsyncClient) -> None:
    await http.post("/economic/customers", json=CUSTOMER)
    created = await http.post("/economic/invoices/drafts", json=draft(1, "order-1"))
    assert created.status_code == 201
    assert_schema("invoices.drafts.draftInvoiceNumber.get", created.json())
    body = decimal_json(created)
    assert (body["netAmount"], body["vatAmount"], body["grossAmount"]) == (180, 45, 225)
    listed = (await http.get("/economic/invoices/drafts")).json()
    assert_schema("invoices.drafts.get", listed)
    assert "lines" not in listed["collection"][0]
    booked = await http.post(
        "/economic/invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": 1}}
    )
    assert booked.status_code == 201
    assert_schema("invoices.booked.bookedInvoiceNumber.get", booked.json())
    again = await http.post(
        "/economic/invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": 1}}
    )
    assert again.status_code == 404
    found = await http.get(
        "/economic/invoices/booked", params={"filter": "references.other$eq:order-1"}
    )
    assert_schema("invoices.booked.get", found.json())
    assert [b["bookedInvoiceNumber"] for b in found.json()["collection"]] == [1]
    mug = decimal_json(await http.get("/economic/products/MUG-BLACK"))
    assert mug["inventory"]["inStock"] == 17


async def test_admin_state_reset_and_health(http: httpx.AsyncClient, grant_token: str) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    await http.post("/economic/customers", json=CUSTOMER)
    state = (await http.get(f"/_sandbox/agreements/{grant_token}/state")).json()
    assert [c["name"] for c in state["customers"]] == ["Jane Doe"]
    assert len(state["products"]) == 5
    assert (await http.post("/_sandbox/reset", params={"agreement": grant_token})).json() == {
        "reset": 1
    }
    assert (await http.get(f"/_sandbox/agreements/{grant_token}/state")).status_code == 404


async def test_agreements_are_isolated(app: Any, http: httpx.AsyncClient) -> None:
    await http.post("/economic/customers", json=CUSTOMER)
    other = await http.get(
        "/economic/customers",
        headers={"X-AppSecretToken": "app", "X-AgreementGrantToken": "someone-else"},
    )
    assert other.json()["collection"] == []
    demo = await http.get(
        "/economic/customers", params={"demo": "true"}, headers={"X-AgreementGrantToken": ""}
    )
    assert demo.status_code == 200


async def test_unknown_path_uses_error_body(http: httpx.AsyncClient) -> None:
    response = await http.get("/economic/no-such-thing")
    assert response.status_code == 404
    assert response.json()["message"] == "Resource not found."
