"""e-conomic behind the ledger port: each use case against the sandbox, the exactly-once
contract with lost replies, and the registry that opens the adapter from a connection's kind."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest
from economic_support import RecordingTransport

from lb_common.settings import CommonSettings
from lb_connectors.economic import EconomicClient
from lb_connectors.economic.ledger import LEDGER_KIND, EconomicCredentials, EconomicLedger
from lb_connectors.ledger import (
    CustomerChanges,
    CustomerDetails,
    DocumentLine,
    DocumentPlan,
    DocumentRequest,
    ItemDetails,
    Ledger,
    LedgerCustomer,
    LedgerDocument,
    LedgerNotFound,
    LedgerRefused,
    LedgerUnavailable,
    MatchKey,
    PaymentRequest,
    PostalAddress,
    Resume,
    ShopField,
    UnknownLedgerKind,
)
from lb_connectors.ledger.registry import ADAPTERS, ledger_kind
from lb_connectors.ledgers import LEDGER_KINDS, LedgerDirectory

OPTIONS = {"customer_group": "1", "payment_terms": "1", "vat_zone": "1"}


@pytest.fixture
def ledger(client: EconomicClient) -> EconomicLedger:
    return EconomicLedger(client)


async def _add_fault(sandbox: Any, **spec: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox.test"
    ) as admin:
        response = await admin.post("/_sandbox/faults", json=spec)
        assert response.status_code == 201, response.text


async def _customer(ledger: EconomicLedger, email: str = "jane@example.com") -> str:
    outcome = await ledger.find_or_create_customer(
        [MatchKey(kind="email", value=email)],
        CustomerDetails(name="Jane Doe", currency="DKK", email=email, options=OPTIONS),
        idempotency_key=f"test:customer:{email}",
    )
    return outcome.customer.id


def _request(customer: str, reference: str = "shop:1001", **extra: Any) -> DocumentRequest:
    return DocumentRequest(
        reference=reference,
        customer_id=customer,
        currency="DKK",
        date=dt.date(2026, 5, 3),
        lines=(
            DocumentLine(
                item="MUG-BLACK",
                description="Mug black",
                quantity=Decimal("2"),
                unit_net_price=Decimal("60.00"),
            ),
        ),
        bill_to=PostalAddress(name="Jane Doe", lines=("Vej 1",), zip="8000", city="Aarhus"),
        **extra,
    )


class Drafts:
    """The caller's record of the draft (what invoicing stores on its link)."""

    def __init__(self) -> None:
        self.seen: list[LedgerDocument] = []

    async def __call__(self, draft: LedgerDocument) -> None:
        self.seen.append(draft)

    @property
    def resume(self) -> Resume:
        return Resume(earlier_attempt=True, draft_id=self.seen[-1].id if self.seen else None)


async def test_a_customer_is_created_once_then_found_by_its_key(ledger: EconomicLedger) -> None:
    first = await ledger.find_or_create_customer(
        [MatchKey(kind="email", value="anna@example.dk")],
        CustomerDetails(name="Anna", currency="DKK", email="Anna@Example.dk", options=OPTIONS),
        idempotency_key="c:anna",
    )
    again = await ledger.find_or_create_customer(
        [MatchKey(kind="cvr", value="12345674"), MatchKey(kind="email", value="anna@example.dk")],
        CustomerDetails(name="Anna", currency="DKK", options=OPTIONS),
        idempotency_key="c:anna",
    )
    assert first.created and not again.created
    assert again.customer.id == first.customer.id and isinstance(first.customer.id, str)
    assert again.matched_on == MatchKey(kind="email", value="anna@example.dk")
    assert (await ledger.get_customer(first.customer.id)).name == "Anna"  # type: ignore[union-attr]


async def test_a_new_customer_without_its_group_setting_is_refused_by_name(
    ledger: EconomicLedger,
) -> None:
    with pytest.raises(Exception, match="customer_group"):
        await ledger.find_or_create_customer(
            [MatchKey(kind="email", value="x@example.com")],
            CustomerDetails(name="X", currency="DKK"),
            idempotency_key="c:x",
        )


async def test_a_first_attempt_books_without_any_lookup(
    ledger: EconomicLedger, transport: RecordingTransport
) -> None:
    customer = await _customer(ledger)
    drafts = Drafts()
    before = len(transport.requests)
    request = _request(customer, options={"layout": "21"})  # layouts otherwise read (cached)
    booked = await ledger.make_document(request, resume=Resume(), on_draft=drafts)
    calls = [(r.method, r.url.path) for r in transport.requests[before:]]
    assert booked.state == "booked" and booked.reference == "shop:1001"
    assert booked.gross_amount == Decimal("150.00") and booked.lines[0].item == "MUG-BLACK"
    assert [d.state for d in drafts.seen] == ["draft"]
    # The customer was just read by the create (cached); a draft POST, a booking POST, nothing else.
    assert [m for m, _ in calls] == ["POST", "POST"], calls


async def test_a_lost_booking_reply_is_found_not_booked_twice(
    ledger: EconomicLedger, sandbox: Any, grant_token: str
) -> None:
    customer = await _customer(ledger)
    await _add_fault(
        sandbox, kind="lost_reply", path="/invoices/booked", method="POST", times=1,
        agreement=grant_token,
    )  # fmt: skip
    drafts = Drafts()
    with pytest.raises(LedgerUnavailable):
        await ledger.make_document(_request(customer), resume=Resume(), on_draft=drafts)
    booked = await ledger.make_document(_request(customer), resume=drafts.resume, on_draft=drafts)
    assert booked.state == "booked"
    assert await ledger.find_document("shop:1001") == booked
    assert len(await ledger.client.find_booked_invoices(reference="shop:1001")) == 1


async def test_a_lost_draft_reply_is_found_by_the_reference(
    ledger: EconomicLedger, sandbox: Any, grant_token: str
) -> None:
    customer = await _customer(ledger)
    await _add_fault(
        sandbox, kind="lost_reply", path="/invoices/drafts", method="POST", times=1,
        agreement=grant_token,
    )  # fmt: skip
    drafts = Drafts()
    with pytest.raises(LedgerUnavailable):
        await ledger.make_document(_request(customer), resume=Resume(), on_draft=drafts)
    assert drafts.seen == []  # the reply was lost: nothing recorded
    booked = await ledger.make_document(_request(customer), resume=drafts.resume, on_draft=drafts)
    assert booked.state == "booked"
    assert len(await ledger.client.find_booked_invoices(reference="shop:1001")) == 1
    assert await ledger.client.find_draft_invoices(reference="shop:1001") == []


async def test_a_draft_only_connection_leaves_the_draft(ledger: EconomicLedger) -> None:
    customer = await _customer(ledger)
    left = await ledger.make_document(
        _request(customer, book=False), resume=Resume(), on_draft=Drafts()
    )
    assert left.state == "draft"
    assert await ledger.find_document("shop:1001") is None


async def test_a_credit_note_credits_the_lines_once(ledger: EconomicLedger) -> None:
    customer = await _customer(ledger)
    invoice = await ledger.make_document(_request(customer), resume=Resume(), on_draft=Drafts())
    credit = _request(
        customer, reference="shop:1001:refund:1", kind="credit_note", credits=invoice.id
    )
    note = await ledger.make_document(credit, resume=Resume(), on_draft=Drafts())
    again = await ledger.make_document(
        credit, resume=Resume(earlier_attempt=True), on_draft=Drafts()
    )
    assert note.kind == "credit_note" and note.gross_amount == Decimal("-150.00")
    assert again.id == note.id
    assert (await ledger.get_document(invoice.id)) == invoice


async def test_a_payment_is_registered_once_when_its_reply_is_lost(
    ledger: EconomicLedger, sandbox: Any, grant_token: str
) -> None:
    customer = await _customer(ledger)
    invoice = await ledger.make_document(_request(customer), resume=Resume(), on_draft=Drafts())
    payment = PaymentRequest(
        reference="shop:1001",
        document_id=invoice.id,
        customer_id=customer,
        amount=invoice.gross_amount,
        currency="DKK",
        date=invoice.date,
        clearing_account="5820",
        journal="1",
        text="Webshop order #1001 paid via stripe",
    )
    await _add_fault(
        sandbox, kind="lost_reply", path="/journals/1/vouchers", method="POST", times=1,
        agreement=grant_token,
    )  # fmt: skip
    with pytest.raises(LedgerUnavailable):
        await ledger.register_payment(payment, earlier_attempt=False)
    paid = await ledger.register_payment(payment, earlier_attempt=True)
    entries = await ledger.client.find_journal_entries(1)
    assert len(entries) == 1 and entries[0].text is not None
    assert entries[0].text.endswith("[shop:1001]")
    assert paid.amount == Decimal("150.00") and paid.id.endswith(
        f"-{entries[0].voucher.voucher_number}"  # type: ignore[union-attr]
    )


async def test_stock_is_read_for_the_skus_asked_and_none_where_none_is_kept(
    ledger: EconomicLedger,
) -> None:
    levels = await ledger.read_stock(["MUG-BLACK", "SHIPPING", "NO-SUCH"])
    assert levels["MUG-BLACK"].available == Decimal("20")
    assert levels["SHIPPING"].available is None  # a service group keeps no stock
    assert "NO-SUCH" not in levels
    catalogue = {level.item for level in await ledger.read_catalogue()}
    assert {"MUG-BLACK", "TSHIRT-RED-M", "SHIPPING"} <= catalogue


async def test_reference_data_names_what_a_settings_screen_offers(ledger: EconomicLedger) -> None:
    data = await ledger.reference_data()
    assert "21" in {layout.id for layout in data.layouts}
    assert {"1"} <= {group.id for group in data.customer_groups}
    assert "DKK" in {c.id for c in data.currencies}


async def test_reference_data_tells_terms_apart_and_reads_items_only_when_asked(
    ledger: EconomicLedger,
) -> None:
    data = await ledger.reference_data()
    terms = {t.id: t.facts for t in data.payment_terms}
    assert terms["1"] == {"type": "net", "days_of_credit": "8"}
    assert terms["2"]["type"] == "dueDate"
    assert data.items == () and not data.more_items  # no product page read
    few = await ledger.reference_data(items=2)
    assert len(few.items) == 2 and few.more_items
    everything = await ledger.reference_data(items=1000)
    assert "MUG-BLACK" in {item.id for item in everything.items}
    assert not everything.more_items


async def test_the_registry_opens_economic_for_its_kind_and_names_unknown_kinds() -> None:
    assert ledger_kind("economic") is LEDGER_KIND and "economic" in ADAPTERS
    assert LEDGER_KINDS["economic"] is EconomicCredentials
    with pytest.raises(UnknownLedgerKind, match="'fortnox'"):
        ledger_kind("fortnox")
    directory = LedgerDirectory(
        CommonSettings(environment_connections="*"),  # type: ignore[call-arg]
    )
    try:
        ledger = directory.ledger("demo")
        assert isinstance(ledger, Ledger) and ledger.kind == "economic"
        assert directory.ledger("other") is ledger  # one agreement, one adapter
    finally:
        await directory.aclose()


# --- customers: the port's search hints, search_first, updates, the listing -----------------


async def _seed_customers(sandbox: Any, grant: str, rows: list[dict[str, Any]]) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox.test"
    ) as admin:
        answer = await admin.post(f"/_sandbox/agreements/{grant}/customers", json=rows)
        assert answer.status_code == 201, answer.text


async def test_one_search_finds_a_phone_spelt_otherwise_and_prefers_an_open_customer(
    ledger: EconomicLedger, sandbox: Any, grant_token: str, transport: RecordingTransport
) -> None:
    await _seed_customers(
        sandbox,
        grant_token,
        [
            {"customerNumber": 7, "name": "Bo", "telephoneAndFaxNumber": "12 34 56 78"},
            {"customerNumber": 3, "name": "Bo", "mobilePhone": "0045 1234 5678", "barred": True},
            {"customerNumber": 9, "name": "Other", "telephoneAndFaxNumber": "87654321"},
        ],
    )
    before = len(transport.requests)
    found = await ledger.find_customer([MatchKey(kind="phone", value="+4512345678", country="DK")])
    assert found is not None and found.customer.id == "7"  # 3 matches too, but is barred
    assert found.customer.phones == ("12 34 56 78",)
    assert len(transport.requests) - before == 1  # every spelling in one filtered list
    known = ledger.known_customer("7")  # remembered by the search, no call
    assert known is not None and known.phones == ("12 34 56 78",)
    assert ledger.known_customer("9") is None


async def test_a_custom_field_key_and_a_name_as_written(
    ledger: EconomicLedger, sandbox: Any, grant_token: str
) -> None:
    await _seed_customers(
        sandbox,
        grant_token,
        [
            {"customerNumber": 12, "name": "Karen Jensen", "publicEntryNumber": "shop-77"},
            {"customerNumber": 13, "name": "Karen Jensen ApS"},
        ],
    )
    custom = MatchKey(kind="custom_field", value="shop-77", field="publicEntryNumber")
    assert (await ledger.find_customer([custom])).customer.id == "12"  # type: ignore[union-attr]
    assert await ledger.find_customer([MatchKey(kind="custom_field", value="shop-77")]) is None
    name = MatchKey(kind="name", value="karen jensen", written="Karen Jensen")
    assert (await ledger.find_customer([name])).customer.id == "12"  # type: ignore[union-attr]


async def test_search_first_false_creates_without_looking_and_carries_number_and_custom_field(
    ledger: EconomicLedger, transport: RecordingTransport
) -> None:
    before = len(transport.requests)
    made = await ledger.find_or_create_customer(
        [MatchKey(kind="email", value="new@example.com")],
        CustomerDetails(
            name="New",
            currency="DKK",
            email="new@example.com",
            number="4711",
            options={**OPTIONS, "custom_field": "publicEntryNumber", "custom_value": "shop-9"},
        ),
        idempotency_key="c:new",
        search_first=False,
    )
    assert made.created and made.customer.id == "4711"
    assert [r.method for r in transport.requests[before:]] == ["POST"]
    [body] = transport.bodies("POST", "/customers")
    assert body["customerNumber"] == 4711 and body["publicEntryNumber"] == "shop-9"


async def test_update_writes_the_changes_onto_the_record_and_adds_a_delivery_location_once(
    ledger: EconomicLedger, transport: RecordingTransport
) -> None:
    customer = await _customer(ledger)
    changes = CustomerChanges(
        phone="+4522222222",
        shipping=PostalAddress(lines=("Strandvejen 99",), zip="3000", city="Helsingør"),
    )
    first = await ledger.update_customer(customer, changes, idempotency_key="u:1")
    assert first.customer.phones == ("+4522222222",)
    assert first.customer.email == "jane@example.com"  # what we did not change stays
    assert first.done and "Strandvejen 99" in first.done[0]
    again = await ledger.update_customer(
        customer, CustomerChanges(shipping=changes.shipping), idempotency_key="u:2"
    )
    assert again.done == ()  # the same address is there already
    assert len(transport.bodies("POST", "/delivery-locations")) == 1
    with pytest.raises(LedgerNotFound):
        await ledger.update_customer("999999", changes, idempotency_key="u:3")


async def test_a_refusal_names_the_shop_field_in_the_ports_terms(ledger: EconomicLedger) -> None:
    with pytest.raises(LedgerRefused) as refused:
        await ledger.find_or_create_customer(
            [],
            CustomerDetails(name="X", currency="DKK", email="not an address" * 30, options=OPTIONS),
            idempotency_key="c:bad",
        )
    blamed = refused.value.blaming({"email": ShopField("email address", "bad", "the order")})
    assert "e-conomic refused the email address 'bad' from the order" in str(blamed)
    assert isinstance(blamed, LedgerRefused)


async def test_every_customer_is_listed_in_the_ports_terms(
    ledger: EconomicLedger, sandbox: Any, grant_token: str
) -> None:
    await _seed_customers(
        sandbox,
        grant_token,
        [{"customerNumber": n, "name": f"C{n}", "email": f"c{n}@x.dk"} for n in range(1, 6)],
    )
    listed = [c async for c in ledger.list_customers(page_size=2)]
    assert sorted(int(c.id) for c in listed) == [1, 2, 3, 4, 5]
    assert {c.email for c in listed} == {f"c{n}@x.dk" for n in range(1, 6)}


# --- what invoicing plans an invoice with (issue #14) ----------------------------------------


async def test_items_are_found_with_their_group_and_a_new_one_goes_in_its_group(
    ledger: EconomicLedger,
) -> None:
    found = await ledger.find_items(["MUG-BLACK", "NO-SUCH-SKU"])
    assert set(found) == {"MUG-BLACK"}
    mug = found["MUG-BLACK"]
    assert mug.group is not None and mug.group.isdigit() and not mug.barred
    made = await ledger.create_item(
        ItemDetails(id="NEW-HAT", name="Hat", unit_net_price=Decimal("80.004"), group="1"),
        idempotency_key="test:product:NEW-HAT",
    )
    assert (made.id, made.group) == ("NEW-HAT", "1")
    [product] = [p async for p in ledger.client.iter_products() if p.product_number == "NEW-HAT"]
    assert (
        product.sales_price == Decimal("80.00") and product.product_group.product_group_number == 1
    )


async def test_a_customer_another_service_read_is_used_until_a_fresh_read_is_asked(
    ledger: EconomicLedger, transport: RecordingTransport
) -> None:
    customer = await _customer(ledger)
    ledger.cache.customers.clear()
    known = LedgerCustomer(
        id=customer, number=customer, name="Jane as customers read her", tax_zone="1",
        payment_terms="1", group="1", read_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    before = len(transport.requests)
    carried = await ledger.get_customer(customer, known=known)
    assert carried is not None and carried.name == "Jane as customers read her"
    assert len(transport.requests) == before  # no call
    fresh = await ledger.get_customer(customer, fresh=True)
    assert fresh is not None and fresh.name == "Jane Doe" and fresh.read_at >= known.read_at
    assert [r.method for r in transport.requests[before:]] == ["GET"]


async def test_a_resumed_plan_books_the_recorded_draft_without_planning_again(
    ledger: EconomicLedger,
) -> None:
    customer = await _customer(ledger)
    left = await ledger.make_document(
        _request(customer, book=False), resume=Resume(), on_draft=Drafts()
    )

    async def plan_again() -> DocumentRequest:
        raise AssertionError("a draft was recorded: nothing is planned again")

    drafts = Drafts()
    booked = await ledger.make_document(
        DocumentPlan("shop:1001", plan_again),
        resume=Resume(earlier_attempt=True, draft_id=left.id),
        on_draft=drafts,
    )
    assert booked.state == "booked" and [d.id for d in drafts.seen] == [left.id]


async def test_the_vat_rate_of_each_item_on_a_draft_is_explained(ledger: EconomicLedger) -> None:
    customer = await _customer(ledger)
    draft = await ledger.make_document(
        _request(customer, book=False), resume=Resume(), on_draft=Drafts()
    )
    rates = await ledger.item_tax_rates(draft, ["MUG-BLACK"])
    assert rates["MUG-BLACK"].rate == Decimal("0.25")
    assert rates["MUG-BLACK"].explanation.startswith("product MUG-BLACK is in product group")
