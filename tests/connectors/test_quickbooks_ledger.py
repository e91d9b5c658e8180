"""QuickBooks behind the ledger port, opened through the registry as a service would: the
customer settings of seed 001 (name format and field, address updates, standard and default
customer), documents and payments exactly once, refunds, stock, reference data."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from lb_common.db import Database
from lb_common.sealing import SecretBox
from lb_common.settings import CommonSettings
from lb_connectors.ledger.errors import (
    LedgerNotFound,
    LedgerRefused,
    LedgerUnsupported,
    ShopField,
)
from lb_connectors.ledger.models import (
    CustomerChanges,
    CustomerDetails,
    DocumentLine,
    DocumentRequest,
    ItemDetails,
    MatchKey,
    PaymentRequest,
    PostalAddress,
    Resume,
)
from lb_connectors.ledger.port import DocumentPlan, Ledger
from lb_connectors.ledger.registry import AdapterContext, ledger_kind
from lb_connectors.ledgers import LEDGER_KINDS
from lb_connectors.quickbooks.consent import connect_company
from lb_connectors.quickbooks.errors import FaultError, QuickBooksValidationError
from lb_connectors.quickbooks.oauth import OAuthApp
from lb_connectors.quickbooks.token_vault import QuickBooksTokenRow, TokenVault
from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings
from tests.support.quickbooks_sandbox import hat_and_shipping
from tests.support.stores import Store

HOST = "http://sandbox.test"
TOKEN_URL = f"{HOST}/quickbooks/oauth2/v1/tokens/bearer"
REDIRECT = "https://ledgerbridge.test/qbo"


class Harness:
    def __init__(self, app: Any, ledger: Ledger, realm: str, raw: httpx.AsyncClient) -> None:
        self.app, self.ledger, self.realm, self.raw = app, ledger, realm, raw

    async def seed(self, entity: str, rows: list[dict[str, Any]]) -> list[str]:
        reply = await self.raw.post(
            f"/_sandbox/quickbooks/companies/{self.realm}/{entity}", json=rows
        )
        assert reply.status_code == 201, reply.text
        created: list[str] = reply.json()["created"]
        return created

    async def rows(self, entity: str) -> list[dict[str, Any]]:
        reply = await self.raw.get(f"/_sandbox/quickbooks/companies/{self.realm}/state")
        found: list[dict[str, Any]] = reply.json()["entities"][entity]
        return found

    async def fault(self, **spec: Any) -> None:
        await self.raw.post("/_sandbox/quickbooks/faults", json={"agreement": self.realm, **spec})


@pytest.fixture
async def qb(store: Store, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    app = create_app(SandboxSettings())
    transport = httpx.ASGITransport(app=app)
    url = await store.url(f"qbtokens{uuid.uuid4().hex[:6]}")
    monkeypatch.setenv("LEDGERBRIDGE_QUICKBOOKS_TOKEN_DATABASE_URL", url)
    monkeypatch.setenv("LEDGERBRIDGE_QUICKBOOKS_TOKEN_URL", TOKEN_URL)
    settings = CommonSettings()
    raw = httpx.AsyncClient(transport=transport, base_url=HOST)
    reply = await raw.get(
        "/quickbooks/connect/oauth2",
        params={
            "client_id": "sandbox-qbo-client",
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "state": "s",
        },
    )
    callback = parse_qs(urlsplit(reply.headers["location"]).query)
    db = Database(url)
    await db.create_tables([QuickBooksTokenRow])
    app_keys = OAuthApp("sandbox-qbo-client", "sandbox-qbo-secret", TOKEN_URL)
    credentials = await connect_company(
        TokenVault(db, SecretBox.from_settings(settings)),
        app_keys,
        raw,
        connection="keap-shop",
        code=callback["code"][0],
        redirect_uri=REDIRECT,
        realm_id=callback["realmId"][0],
        base_url=f"{HOST}/quickbooks",
    )
    await db.dispose()
    kind = ledger_kind("quickbooks")
    ledger = kind.open(
        kind.credentials.model_validate(credentials.model_dump()),
        AdapterContext(settings=settings, transport=transport),
    )
    try:
        yield Harness(app, ledger, credentials.realm_id, raw)
    finally:
        await ledger.aclose()
        await raw.aclose()


def details(**options: str) -> CustomerDetails:
    return CustomerDetails(
        name="Ann Lee",
        currency="USD",
        email="ann@example.com",
        billing=PostalAddress(lines=("1 Main St",), zip="10001", city="New York", country="US"),
        shipping=PostalAddress(lines=("9 Dock Rd",), zip="10002", city="New York", country="US"),
        options={"given_name": "Ann", "family_name": "Lee", **options},
    )


EMAIL = [MatchKey(kind="email", value="ann@example.com")]


def test_the_registry_knows_quickbooks() -> None:
    assert "quickbooks" in LEDGER_KINDS
    with pytest.raises(ValueError):
        LEDGER_KINDS["quickbooks"].model_validate({"realm_id": "1"})  # no token_key


async def test_name_format_and_field_then_found_by_email_with_addresses_updated(
    qb: Harness,
) -> None:
    made = await qb.ledger.find_or_create_customer(
        EMAIL, details(name_format="last_first", name_field="CompanyName"), idempotency_key="o-1"
    )
    assert made.created and made.customer.name == "Lee, Ann"
    row = (await qb.rows("Customer"))[0]
    assert row["CompanyName"] == "Lee, Ann" and row["ShipAddr"]["Line1"] == "9 Dock Rd"
    moved = details(update_addresses="shipping").model_copy(
        update={"shipping": PostalAddress(lines=("5 New Rd",), city="Boston", country="US")}
    )
    again = await qb.ledger.find_or_create_customer(EMAIL, moved, idempotency_key="o-2")
    assert not again.created and again.customer.id == made.customer.id
    assert again.matched_on == EMAIL[0]
    row = (await qb.rows("Customer"))[0]
    assert row["ShipAddr"]["Line1"] == "5 New Rd" and row["BillAddr"]["Line1"] == "1 Main St"
    unchanged = await qb.ledger.find_or_create_customer(EMAIL, details(), idempotency_key="o-3")
    assert unchanged.customer.id == made.customer.id
    assert (await qb.rows("Customer"))[0]["SyncToken"] == "1"  # update_addresses none


async def test_standard_customer_when_not_found_and_default_when_no_details(qb: Harness) -> None:
    standard, fallback = await qb.seed(
        "Customer", [{"DisplayName": "Web Sales"}, {"DisplayName": "Walk-in"}]
    )
    outcome = await qb.ledger.find_or_create_customer(
        EMAIL,
        details(when_not_found="standard_customer", standard_customer_id=standard),
        idempotency_key="o-1",
    )
    assert outcome.customer.id == standard and not outcome.created
    anonymous = CustomerDetails(name="", currency="USD", options={"default_customer_id": fallback})
    assert (
        await qb.ledger.find_or_create_customer([], anonymous, idempotency_key="o-2")
    ).customer.id == fallback
    with pytest.raises(LedgerRefused, match="no default QuickBooks customer"):
        await qb.ledger.find_or_create_customer(
            [], CustomerDetails(name="", currency="USD"), idempotency_key="o-3"
        )
    with pytest.raises(LedgerRefused, match="standard_customer_id"):
        await qb.ledger.find_or_create_customer(
            EMAIL, details(when_not_found="standard_customer"), idempotency_key="o-4"
        )
    assert len(await qb.rows("Customer")) == 2


def invoice_request(customer: str, reference: str = "K-1001", **options: str) -> DocumentRequest:
    return DocumentRequest(
        reference=reference,
        customer_id=customer,
        currency="USD",
        date=dt.date(2026, 11, 28),
        lines=(
            DocumentLine(
                item="HAT", description="Hat", quantity=Decimal(2), unit_net_price=Decimal("10.00")
            ),
            DocumentLine(
                item=None,
                description="Shipping",
                quantity=Decimal(1),
                unit_net_price=Decimal("4.95"),
            ),
        ),
        options={"default_item": "SHIP", "tax_code": "2", **options},
    )


async def _customer_and_items(qb: Harness) -> str:
    await qb.seed(
        "Item",
        hat_and_shipping(),
    )
    made = await qb.ledger.find_or_create_customer(EMAIL, details(), idempotency_key="o")
    return made.customer.id


async def never(_: Any) -> None:
    raise AssertionError("QuickBooks has no drafts")


async def test_invoice_exactly_once_with_a_lost_reply_and_a_resumed_attempt(qb: Harness) -> None:
    customer = await _customer_and_items(qb)
    await qb.fault(kind="lost_reply", path="/invoice", method="POST", times=1)
    first = await qb.ledger.make_document(
        invoice_request(customer), resume=Resume(), on_draft=never
    )
    assert first.state == "booked" and first.number == "K-1001" and first.reference == "K-1001"
    assert first.net_amount == Decimal("24.95") and first.vat_amount == Decimal("6.24")
    assert first.gross_amount == Decimal("31.19")
    assert [(line.item, line.quantity) for line in first.lines] == [("HAT", 2), ("SHIP", 1)]
    resumed = await qb.ledger.make_document(
        invoice_request(customer), resume=Resume(earlier_attempt=True), on_draft=never
    )
    assert resumed.id == first.id
    found = await qb.ledger.find_document("K-1001")
    assert found is not None and found.id == first.id
    assert len(await qb.rows("Invoice")) == 1


async def test_long_references_get_a_stable_doc_number(qb: Harness) -> None:
    customer = await _customer_and_items(qb)
    reference = "keap-shop:order:123456789012345"
    made = await qb.ledger.make_document(
        invoice_request(customer, reference), resume=Resume(), on_draft=never
    )
    assert made.number.startswith("LB-") and made.reference == reference
    found = await qb.ledger.find_document(reference)
    assert found is not None and found.id == made.id


async def test_payment_into_undeposited_funds_once(qb: Harness) -> None:
    customer = await _customer_and_items(qb)
    invoice = await qb.ledger.make_document(
        invoice_request(customer), resume=Resume(), on_draft=never
    )
    request = PaymentRequest(
        reference="K-1001:payment",
        document_id=invoice.id,
        customer_id=customer,
        amount=invoice.gross_amount,
        currency="USD",
        date=dt.date(2026, 11, 28),
        clearing_account="undeposited_funds",
        text="Keap order 1001",
    )
    await qb.fault(kind="lost_reply", path="/payment", method="POST", times=1)
    paid = await qb.ledger.register_payment(request, earlier_attempt=False)
    again = await qb.ledger.register_payment(request, earlier_attempt=True)
    assert again.id == paid.id and paid.amount == Decimal("31.19")
    payments = await qb.rows("Payment")
    assert len(payments) == 1 and payments[0]["DepositToAccountRef"]["value"] == "4"
    assert Decimal(str((await qb.rows("Invoice"))[0]["Balance"])) == 0


async def test_refund_as_credit_memo_or_refund_receipt(qb: Harness) -> None:
    customer = await _customer_and_items(qb)
    credit = invoice_request(customer, "K-1001-R1").model_copy(update={"kind": "credit_note"})
    memo = await qb.ledger.make_document(credit, resume=Resume(), on_draft=never)
    assert memo.kind == "credit_note" and len(await qb.rows("CreditMemo")) == 1
    receipt_request = invoice_request(
        customer, "K-1001-R2", refund_as="refund_receipt", refund_account="5"
    ).model_copy(update={"kind": "credit_note"})
    receipt = await qb.ledger.make_document(receipt_request, resume=Resume(), on_draft=never)
    assert (await qb.rows("RefundReceipt"))[0]["DepositToAccountRef"]["value"] == "5"
    found = await qb.ledger.find_document("K-1001-R2", kind="credit_note")
    assert found is not None and found.id == receipt.id


async def test_unknown_sku_and_e_invoice_are_refused_with_what_to_do(qb: Harness) -> None:
    customer = await _customer_and_items(qb)
    wrong = invoice_request(customer).model_copy(
        update={
            "lines": (
                DocumentLine(
                    item="HAT-GREEN",
                    description="Item HAT-GREEN",
                    quantity=Decimal(1),
                    unit_net_price=Decimal(1),
                ),
            )
        }
    )
    with pytest.raises(LedgerRefused, match=r"SKU 'HAT-GREEN'.*create it"):
        await qb.ledger.make_document(wrong, resume=Resume(), on_draft=never)
    ean = invoice_request(customer).model_copy(update={"send_by": "EAN"})
    with pytest.raises(LedgerUnsupported):
        await qb.ledger.make_document(ean, resume=Resume(), on_draft=never)
    assert await qb.rows("Invoice") == []


async def test_stock_and_reference_data(qb: Harness) -> None:
    await _customer_and_items(qb)
    stock = await qb.ledger.read_stock(["HAT", "SHIP", "NOPE"])
    assert stock["HAT"].on_hand == 7 and stock["SHIP"].on_hand is None and "NOPE" not in stock
    assert sorted(s.item for s in await qb.ledger.read_catalogue()) == ["HAT", "SHIP"]
    data = await qb.ledger.reference_data()
    assert {c.id for c in data.tax_zones} == {"2", "3"}
    assert [c.id for c in data.clearing_accounts][:2] == ["undeposited_funds", "5"]


async def test_customer_created_once_across_a_lost_reply(qb: Harness) -> None:
    await qb.fault(kind="lost_reply", path="/customer", method="POST", times=1)
    made = await qb.ledger.find_or_create_customer(EMAIL, details(), idempotency_key="o-1")
    again = await qb.ledger.find_or_create_customer(EMAIL, details(), idempotency_key="o-1")
    assert made.created and not again.created and again.customer.id == made.customer.id
    assert [c["DisplayName"] for c in await qb.rows("Customer")] == ["Ann Lee"]


async def test_a_foreign_currency_is_refused_without_multicurrency(qb: Harness) -> None:
    customer = await _customer_and_items(qb)
    euro = invoice_request(customer).model_copy(update={"currency": "EUR"})
    with pytest.raises(LedgerRefused, match="EUR is not the home currency USD"):
        await qb.ledger.make_document(euro, resume=Resume(), on_draft=never)
    assert await qb.rows("Invoice") == []


# --- the port's additions: search_first, a name as written, updates, the listing -----------


async def test_search_first_false_creates_with_no_query(qb: Harness) -> None:
    made = await qb.ledger.find_or_create_customer(
        EMAIL, details(), idempotency_key="o-1", search_first=False
    )
    assert made.created
    reply = await qb.raw.get(f"/_sandbox/quickbooks/companies/{qb.realm}/calls")
    calls = reply.json()["calls"]
    assert calls.get("POST /customer") == 1 and "GET /query" not in calls
    assert qb.ledger.known_customer(made.customer.id) is None  # no customer cache


async def test_a_name_key_searches_the_name_as_written(qb: Harness) -> None:
    [ann] = await qb.seed("Customer", [{"DisplayName": "Ann Lee"}])
    found = await qb.ledger.find_customer(
        [MatchKey(kind="name", value="ann lee", written="Ann Lee")]
    )
    assert found is not None and found.customer.id == ann


async def test_an_update_writes_only_what_differs(qb: Harness) -> None:
    made = await qb.ledger.find_or_create_customer(EMAIL, details(), idempotency_key="o-1")
    same = await qb.ledger.update_customer(
        made.customer.id,
        CustomerChanges(email="ann@example.com", billing=details().billing),
        idempotency_key="u-1",
    )
    assert same.done == ()
    assert (await qb.rows("Customer"))[0]["SyncToken"] == "0"  # nothing was written
    moved = await qb.ledger.update_customer(
        made.customer.id,
        CustomerChanges(
            phone="+1 555 0100",
            shipping=PostalAddress(lines=("5 New Rd",), city="Boston", country="US"),
        ),
        idempotency_key="u-2",
    )
    assert moved.customer.phones == ("+1 555 0100",)
    assert moved.done == ("Updated the shipping address (ShipAddr).",)
    row = (await qb.rows("Customer"))[0]
    assert row["ShipAddr"]["Line1"] == "5 New Rd" and row["BillAddr"]["Line1"] == "1 Main St"
    with pytest.raises(LedgerNotFound):
        await qb.ledger.update_customer("999", CustomerChanges(phone="1"), idempotency_key="u-3")


async def test_every_customer_is_listed(qb: Harness) -> None:
    ids = await qb.seed("Customer", [{"DisplayName": f"C{n}"} for n in range(3)])
    listed = [c async for c in qb.ledger.list_customers()]
    assert sorted(c.id for c in listed) == sorted(ids)


def test_a_refused_customer_field_names_the_shop_field() -> None:
    refused = QuickBooksValidationError(
        "QuickBooks refused the customer",
        status=400,
        errors=(
            FaultError("2050", "String length is too long", "too long", "PrimaryEmailAddr.Address"),
        ),
    )
    blamed = refused.blaming({"email": ShopField("email address", "a@b.c", "the order")})
    assert isinstance(blamed, LedgerRefused)
    assert str(blamed).startswith("QuickBooks refused the email address 'a@b.c' from the order")
    assert refused.blaming({"zip": ShopField("zip code", "1", "the order")}) is refused


async def test_items_for_planning_an_invoice(qb: Harness) -> None:
    customer = await _customer_and_items(qb)
    found = await qb.ledger.find_items(["HAT", "NO-SUCH-SKU"])
    assert set(found) == {"HAT"} and found["HAT"].group is None and not found["HAT"].barred
    with pytest.raises(LedgerUnsupported, match="create the item in QuickBooks"):
        await qb.ledger.create_item(
            ItemDetails(id="CAP", name="Cap", unit_net_price=Decimal(5)), idempotency_key="k"
        )
    made = await qb.ledger.make_document(invoice_request(customer), resume=Resume(), on_draft=never)
    assert await qb.ledger.item_tax_rates(made, ["HAT"]) == {}  # no draft to explain


async def test_a_resumed_plan_finds_the_invoice_without_planning_again(qb: Harness) -> None:
    customer = await _customer_and_items(qb)
    await qb.fault(kind="lost_reply", path="/invoice", method="POST", times=1)
    planned: list[str] = []

    async def plan() -> DocumentRequest:
        planned.append("planned")
        return invoice_request(customer)

    made = await qb.ledger.make_document(
        DocumentPlan("K-1001", plan), resume=Resume(), on_draft=never
    )
    found = await qb.ledger.make_document(
        DocumentPlan("K-1001", plan), resume=Resume(earlier_attempt=True), on_draft=never
    )
    assert planned == ["planned"] and found.id == made.id and found.state == "booked"
    assert len(await qb.rows("Invoice")) == 1


async def test_a_taxed_order_without_a_tax_code_is_refused_before_anything_is_booked(
    qb: Harness,
) -> None:
    """QuickBooks charges tax by the lines' tax codes: without one it books the net as the
    total, so an order the shop taxed is refused with the setting to choose, and nothing made."""
    customer = await _customer_and_items(qb)
    untaxed = invoice_request(customer).model_copy(
        update={"options": {"default_item": "SHIP"}, "tax": Decimal("6.24")}
    )
    with pytest.raises(LedgerRefused, match=r"USD 6\.24 of tax.*ledger_options\.tax_code"):
        await qb.ledger.make_document(untaxed, resume=Resume(), on_draft=never)
    assert await qb.rows("Invoice") == []
    # A connection that books without tax on purpose says so, and is not refused.
    on_purpose = untaxed.model_copy(
        update={"options": {"default_item": "SHIP", "tax_calculation": "NotApplicable"}}
    )
    made = await qb.ledger.make_document(on_purpose, resume=Resume(), on_draft=never)
    assert made.state == "booked" and made.vat_amount == Decimal(0)
