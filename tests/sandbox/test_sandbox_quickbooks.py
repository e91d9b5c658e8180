"""The sandbox's QuickBooks Online: OAuth, queries, faults, throttling, idempotency, SyncToken,
names and the sales documents, as QuickBooks answers them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from quickbooks_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT,
    TOKEN_URL,
    connect,
    consent,
    service_item,
)

from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings


@pytest.fixture
def app() -> Any:
    return create_app(
        SandboxSettings(quickbooks_requests_per_minute=40, quickbooks_requests_per_second=1000)
    )


@pytest.fixture
async def raw(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test"
    ) as client:
        yield client


class Company:
    def __init__(self, http: httpx.AsyncClient, realm: str, tokens: dict[str, Any]) -> None:
        self.http, self.realm, self.tokens = http, realm, tokens

    def url(self, path: str) -> str:
        return f"/quickbooks/v3/company/{self.realm}/{path.lstrip('/')}"

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.tokens['access_token']}",
            "Accept": "application/json",
        }

    async def post(self, path: str, body: Any, **params: Any) -> httpx.Response:
        params.setdefault("minorversion", 75)
        return await self.http.post(
            self.url(path), json=body, params=params, headers=self.headers()
        )

    async def get(self, path: str, **params: Any) -> httpx.Response:
        params.setdefault("minorversion", 75)
        return await self.http.get(self.url(path), params=params, headers=self.headers())

    async def query(self, text: str) -> httpx.Response:
        return await self.get("query", query=text)


@pytest.fixture
async def qbo(raw: httpx.AsyncClient) -> Company:
    realm, tokens = await connect(raw)
    return Company(raw, realm, tokens)


def fault(reply: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = reply.json()["Fault"]["Error"][0]
    return error


# --- OAuth ------------------------------------------------------------------------------


async def test_refresh_rotates_and_the_used_refresh_token_stops_working(
    raw: httpx.AsyncClient,
) -> None:
    realm, first = await connect(raw)
    reply = await raw.post(
        TOKEN_URL,
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    second = reply.json()
    assert reply.status_code == 200 and second["expires_in"] == 3600
    assert second["refresh_token"] != first["refresh_token"]
    again = await raw.post(
        TOKEN_URL,
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # The new access token works; the company is the same.
    company = Company(raw, realm, second)
    assert (await company.query("SELECT * FROM Account")).status_code == 200


async def test_a_code_works_once_and_only_for_its_redirect_and_client(
    raw: httpx.AsyncClient,
) -> None:
    code, _ = await consent(raw)
    wrong_uri = await raw.post(
        TOKEN_URL,
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://evil.test/",
        },
    )
    assert wrong_uri.json()["error"] == "invalid_grant"
    bad_client = await raw.post(
        TOKEN_URL,
        auth=(CLIENT_ID, "wrong"),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
    )
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    assert (
        await raw.post(TOKEN_URL, auth=(CLIENT_ID, CLIENT_SECRET), data=data)
    ).status_code == 200
    assert (
        await raw.post(TOKEN_URL, auth=(CLIENT_ID, CLIENT_SECRET), data=data)
    ).status_code == 400


async def test_expired_access_token_is_answered_401_authentication_failed(qbo: Company) -> None:
    await qbo.http.post(f"/_sandbox/quickbooks/companies/{qbo.realm}/expire-access-tokens")
    reply = await qbo.query("SELECT * FROM Customer")
    assert reply.status_code == 401
    error = reply.json()["fault"]["error"][0]
    assert error["code"] == "3200" and "AuthenticationFailed" in error["message"]
    assert "invalid_token" in reply.headers["WWW-Authenticate"]


async def test_a_token_for_one_company_is_refused_for_another(raw: httpx.AsyncClient) -> None:
    _, tokens = await connect(raw)
    other, _ = await connect(raw)
    reply = await Company(raw, other, tokens).query("SELECT * FROM Customer")
    assert reply.status_code == 403 and fault(reply)["code"] == "3100"


async def test_a_wrong_verb_is_answered_in_each_endpoints_own_error_shape(
    raw: httpx.AsyncClient,
) -> None:
    # The OAuth endpoints speak OAuth 2.0 (`error`), the API speaks Fault (make fuzz-api found
    # a TRACE on the token endpoint answered with a Fault).
    for path in ("/quickbooks/oauth2/v1/tokens/bearer", "/quickbooks/connect/oauth2"):
        reply = await raw.request("TRACE", path)
        assert reply.status_code == 405 and reply.json()["error"] == "invalid_request", path
    realm, tokens = await connect(raw)
    reply = await raw.request(
        "TRACE",
        f"/quickbooks/v3/company/{realm}/query",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert reply.status_code == 405 and fault(reply)["code"] == "2010"


# --- query --------------------------------------------------------------------------------


async def test_query_escapes_filters_and_pages(qbo: Company) -> None:
    for name in ("O'Brien Ltd", "Alpha", "Beta", "Gamma"):
        assert (await qbo.post("customer", {"DisplayName": name})).status_code == 200
    found = (await qbo.query(r"SELECT * FROM Customer WHERE DisplayName = 'O\'Brien Ltd'")).json()
    assert [c["DisplayName"] for c in found["QueryResponse"]["Customer"]] == ["O'Brien Ltd"]
    page = (await qbo.query("SELECT * FROM Customer STARTPOSITION 2 MAXRESULTS 2")).json()
    assert page["QueryResponse"]["startPosition"] == 2
    assert [c["DisplayName"] for c in page["QueryResponse"]["Customer"]] == ["Alpha", "Beta"]
    like = (await qbo.query("SELECT * FROM Customer WHERE DisplayName LIKE '%et%'")).json()
    assert [c["DisplayName"] for c in like["QueryResponse"]["Customer"]] == ["Beta"]
    count = (await qbo.query("select count(*) from Customer")).json()
    assert count["QueryResponse"] == {"totalCount": 4}
    none = (await qbo.query("SELECT * FROM Customer WHERE DisplayName = 'Nobody'")).json()
    assert none["QueryResponse"] == {}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SELECT * FROM Customer WHERE DisplayName = 'A' OR DisplayName = 'B'", "4000"),
        ("SELECT * FROM customer", "4001"),
        ("SELECT * FROM Invoice WHERE PrivateNote = 'x'", "4001"),
        ("SELECT * FROM Customer WHERE DisplayName = 'unterminated", "4000"),
    ],
)
async def test_query_refuses_what_quickbooks_does_not_allow(
    qbo: Company, text: str, code: str
) -> None:
    reply = await qbo.query(text)
    assert reply.status_code == 400 and fault(reply)["code"] == code


async def test_items_by_sku_in_one_query(qbo: Company) -> None:
    for i in range(3):
        await qbo.post("item", service_item(f"Hat {i}", f"HAT-{i}"))
    reply = await qbo.query("SELECT *, Sku FROM Item WHERE Sku IN ('HAT-0', 'HAT-2')")
    assert sorted(i["Sku"] for i in reply.json()["QueryResponse"]["Item"]) == ["HAT-0", "HAT-2"]


# --- names, SyncToken ---------------------------------------------------------------------


async def test_display_name_is_unique_across_customers_and_vendors(qbo: Company) -> None:
    await qbo.http.post(
        f"/_sandbox/quickbooks/companies/{qbo.realm}/Vendor", json=[{"DisplayName": "Acme"}]
    )
    reply = await qbo.post("customer", {"DisplayName": "acme"})
    assert reply.status_code == 400 and fault(reply)["code"] == "6240"


async def test_sparse_update_keeps_other_fields_and_a_stale_sync_token_is_refused(
    qbo: Company,
) -> None:
    made = (
        await qbo.post(
            "customer",
            {
                "DisplayName": "Ann",
                "CompanyName": "Ann Co",
                "PrimaryEmailAddr": {"Address": "ann@example.com"},
            },
        )
    ).json()["Customer"]
    sparse = await qbo.post(
        "customer",
        {
            "Id": made["Id"],
            "SyncToken": made["SyncToken"],
            "sparse": True,
            "BillAddr": {"Line1": "1 Road", "City": "Town"},
        },
    )
    updated = sparse.json()["Customer"]
    assert updated["SyncToken"] == "1" and updated["CompanyName"] == "Ann Co"
    assert updated["BillAddr"]["City"] == "Town"
    stale = await qbo.post(
        "customer", {"Id": made["Id"], "SyncToken": "0", "sparse": True, "Notes": "x"}
    )
    assert stale.status_code == 400 and fault(stale)["code"] == "5010"
    full = (
        await qbo.post("customer", {"Id": made["Id"], "SyncToken": "1", "DisplayName": "Ann"})
    ).json()
    assert "CompanyName" not in full["Customer"]  # a full update clears what it leaves out


# --- documents ----------------------------------------------------------------------------


async def _customer_and_item(qbo: Company) -> tuple[str, str]:
    customer = (await qbo.post("customer", {"DisplayName": "Buyer"})).json()["Customer"]["Id"]
    item = (await qbo.post("item", service_item("Hat", "HAT"))).json()["Item"]["Id"]
    return customer, item


def _invoice(customer: str, item: str, mode: str = "TaxExcluded") -> dict[str, Any]:
    return {
        "CustomerRef": {"value": customer},
        "DocNumber": "1001",
        "GlobalTaxCalculation": mode,
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": "20.00",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": item},
                    "Qty": 2,
                    "UnitPrice": "10.00",
                    "TaxCodeRef": {"value": "2"},
                },
            }
        ],
    }


async def test_invoice_tax_inclusive_and_exclusive(qbo: Company) -> None:
    customer, item = await _customer_and_item(qbo)
    excluded = (await qbo.post("invoice", _invoice(customer, item))).json()["Invoice"]
    assert Decimal(str(excluded["TotalAmt"])) == Decimal("25.00")
    included = (await qbo.post("invoice", _invoice(customer, item, "TaxInclusive"))).json()[
        "Invoice"
    ]
    assert Decimal(str(included["TotalAmt"])) == Decimal("20.00")
    assert Decimal(str(included["TxnTaxDetail"]["TotalTax"])) == Decimal("4.00")
    wrong = _invoice(customer, item)
    wrong["Line"][0]["Amount"] = "21.00"
    reply = await qbo.post("invoice", wrong)
    assert reply.status_code == 400 and fault(reply)["code"] == "6070"


async def test_payment_goes_to_undeposited_funds_and_lowers_the_balance(qbo: Company) -> None:
    customer, item = await _customer_and_item(qbo)
    invoice = (await qbo.post("invoice", _invoice(customer, item))).json()["Invoice"]
    payment = (
        await qbo.post(
            "payment",
            {
                "CustomerRef": {"value": customer},
                "TotalAmt": "25.00",
                "Line": [
                    {
                        "Amount": "25.00",
                        "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                    }
                ],
            },
        )
    ).json()["Payment"]
    assert payment["DepositToAccountRef"]["value"] == "4"
    after = (await qbo.get(f"invoice/{invoice['Id']}")).json()["Invoice"]
    assert Decimal(str(after["Balance"])) == 0
    too_much = await qbo.post(
        "payment",
        {
            "CustomerRef": {"value": customer},
            "TotalAmt": "1.00",
            "Line": [
                {"Amount": "1.00", "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    assert too_much.status_code == 400


async def test_credit_memo_and_refund_receipt(qbo: Company) -> None:
    customer, item = await _customer_and_item(qbo)
    memo = (await qbo.post("creditmemo", _invoice(customer, item))).json()["CreditMemo"]
    assert Decimal(str(memo["RemainingCredit"])) == Decimal("25.00")
    no_account = await qbo.post("refundreceipt", _invoice(customer, item))
    assert no_account.status_code == 400 and fault(no_account)["element"] == "DepositToAccountRef"
    refund = await qbo.post(
        "refundreceipt", {**_invoice(customer, item), "DepositToAccountRef": {"value": "5"}}
    )
    assert refund.status_code == 200


async def test_read_of_a_missing_object_is_fault_610(qbo: Company) -> None:
    reply = await qbo.get("invoice/999")
    assert reply.status_code == 400 and fault(reply)["code"] == "610"


# --- requestid, faults, throttling --------------------------------------------------------


async def test_requestid_replays_the_original_reply_after_a_lost_reply(qbo: Company) -> None:
    await qbo.http.post(
        "/_sandbox/quickbooks/faults",
        json={"kind": "lost_reply", "path": "/customer", "method": "POST", "times": 1},
    )
    lost = await qbo.post("customer", {"DisplayName": "Once"}, requestid="r-1")
    assert lost.status_code == 500 and fault(lost)["code"] == "10000"
    again = await qbo.post("customer", {"DisplayName": "Once"}, requestid="r-1")
    assert again.status_code == 200 and again.json()["Customer"]["DisplayName"] == "Once"
    count = (await qbo.query("SELECT COUNT(*) FROM Customer")).json()
    assert count["QueryResponse"]["totalCount"] == 1
    # Without the requestid the same body is refused as a duplicate name.
    assert fault(await qbo.post("customer", {"DisplayName": "Once"}))["code"] == "6240"


async def test_500_requests_a_minute_then_429(qbo: Company) -> None:
    # The fixture's sandbox allows 40 a minute (setting), to keep the test short.
    statuses = [(await qbo.query("SELECT * FROM TaxCode")).status_code for _ in range(45)]
    assert statuses[:40] == [200] * 40 and set(statuses[40:]) == {429}
    reply = await qbo.query("SELECT * FROM TaxCode")
    assert fault(reply)["code"] == "3001" and "ThrottleExceeded" in fault(reply)["Message"]
    assert int(reply.headers["Retry-After"]) > 0


async def test_more_than_10_at_once_are_refused(qbo: Company) -> None:
    await qbo.http.post(
        "/_sandbox/quickbooks/faults", json={"kind": "latency", "path": "/query", "latencyMs": 200}
    )
    replies = await asyncio.gather(*(qbo.query("SELECT * FROM TaxCode") for _ in range(12)))
    assert sorted(r.status_code for r in replies) == [200] * 10 + [429] * 2


async def test_configured_5xx_and_429_faults(qbo: Company) -> None:
    await qbo.http.post(
        "/_sandbox/quickbooks/faults",
        json={"kind": "error", "path": "/item", "status": 503, "times": 1},
    )
    first = await qbo.post("item", service_item("Cap", "CAP"))
    await qbo.http.post(
        "/_sandbox/quickbooks/faults",
        json={"kind": "rate_limit", "path": "/item", "times": 1, "retryAfter": 2},
    )
    second = await qbo.post("item", service_item("Cap", "CAP"))
    assert (first.status_code, second.status_code) == (503, 429)
    assert fault(first)["code"] == "10000" and second.headers["Retry-After"] == "2"
    assert (await qbo.post("item", service_item("Cap", "CAP"))).status_code == 200


async def test_lost_token_reply_leaves_the_old_refresh_token_dead(raw: httpx.AsyncClient) -> None:
    realm, tokens = await connect(raw)
    await raw.post(
        "/_sandbox/quickbooks/faults",
        json={
            "kind": "lost_reply",
            "path": "/oauth2/v1/tokens/bearer",
            "agreement": realm,
            "times": 1,
        },
    )
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert (
        await raw.post(TOKEN_URL, auth=(CLIENT_ID, CLIENT_SECRET), data=data)
    ).status_code == 502
    assert (
        await raw.post(TOKEN_URL, auth=(CLIENT_ID, CLIENT_SECRET), data=data)
    ).status_code == 400


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("refundreceipt", {"Line": [1]}),
        (
            "payment",
            {
                "CustomerRef": {"value": "1"},
                "TotalAmt": "1",
                "Line": [{"Amount": "1", "LinkedTxn": "x"}],
            },
        ),
        ("customer", ["not", "an", "object"]),
    ],
)
async def test_a_body_of_the_wrong_shape_is_a_validation_fault(
    qbo: Company, path: str, body: Any
) -> None:
    await qbo.post("customer", {"DisplayName": "Someone"})
    reply = await qbo.post(path, body)
    assert reply.status_code == 400 and fault(reply)["code"] == "2010"


async def test_more_than_10_a_second_are_refused() -> None:
    app = create_app(SandboxSettings())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test"
    ) as raw:
        realm, tokens = await connect(raw)
        company = Company(raw, realm, tokens)
        statuses = [(await company.query("SELECT * FROM TaxCode")).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]


async def test_a_restarted_sandbox_keeps_companies_and_tokens(tmp_path: Path) -> None:
    settings = SandboxSettings(state_file=tmp_path / "sandbox-ledger.json")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://sandbox.test"
    ) as raw:
        realm, tokens = await connect(raw)
        made = await Company(raw, realm, tokens).post("customer", {"DisplayName": "Kept"})
        assert made.status_code == 200
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://sandbox.test"
    ) as raw:
        again = Company(raw, realm, tokens)
        found = (await again.query("SELECT * FROM Customer WHERE DisplayName = 'Kept'")).json()
        assert found["QueryResponse"]["Customer"][0]["Id"] == made.json()["Customer"]["Id"]
        refreshed = await raw.post(
            TOKEN_URL,
            auth=(CLIENT_ID, CLIENT_SECRET),
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
        assert refreshed.status_code == 200
        # Ids go on from the kept records.
        other = await again.post("customer", {"DisplayName": "Next"})
        assert int(other.json()["Customer"]["Id"]) == int(made.json()["Customer"]["Id"]) + 1
