"""The e-conomic client's contract: what ledgerbridge relies on, checked against the sandbox on
every run and against a real e-conomic agreement when
`LEDGERBRIDGE_LIVE_ECONOMIC_APP_SECRET_TOKEN` and `LEDGERBRIDGE_LIVE_ECONOMIC_AGREEMENT_GRANT_TOKEN`
are set (skipped otherwise). `make contract-live` runs the live half; README "Live contract
run" says how to get a free developer agreement and what a run leaves in it.

Everything a run creates is named with `LBCONTRACT-<run id>` (customer names, e-mails, product
numbers, invoice references) and deleted at the end where e-conomic allows it. Booking is
irreversible (a booked invoice, its customer and product stay), so against a real agreement
the booking test runs only with `LEDGERBRIDGE_LIVE_ECONOMIC_BOOK=1`.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from economic_support import APP_SECRET, BASE_URL, RecordingTransport

from lb_connectors.call_retry import CallRetry
from lb_connectors.economic import EconomicClient
from lb_connectors.economic.errors import EconomicError, EconomicValidationError
from lb_connectors.economic.ledger_vat import ledger_rate
from lb_connectors.economic.models import (
    ContactCreate,
    CustomerCreate,
    CustomerGroupRef,
    CustomerRef,
    DraftInvoiceCreate,
    InvoiceLine,
    LayoutRef,
    PaymentTermsRef,
    ProductCreate,
    ProductGroupRef,
    ProductRef,
    Recipient,
    References,
    VatZoneRef,
)

LIVE_SECRET = "LEDGERBRIDGE_LIVE_ECONOMIC_APP_SECRET_TOKEN"
LIVE_GRANT = "LEDGERBRIDGE_LIVE_ECONOMIC_AGREEMENT_GRANT_TOKEN"
LIVE_BASE_URL = "LEDGERBRIDGE_LIVE_ECONOMIC_BASE_URL"
LIVE_BOOK = "LEDGERBRIDGE_LIVE_ECONOMIC_BOOK"
MARK = "LBCONTRACT"
TERMS_TYPES = {
    "net", "invoiceMonth", "paidInCash", "prepaid", "dueDate", "factoring",
    "invoiceWeekStartingSunday", "invoiceWeekStartingMonday", "creditcard",
}  # fmt: skip
CENT = Decimal("0.01")


class Ledger:
    """A client, the target's name, this run's mark, and the clean-up to do at the end."""

    def __init__(self, client: EconomicClient, target: str) -> None:
        self.client = client
        self.target = target
        self.mark = f"{MARK}-{uuid.uuid4().hex[:8]}"
        self._undo: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        self.left: list[str] = []

    def undo(self, what: str, action: Callable[[], Awaitable[Any]]) -> None:
        self._undo.append((what, action))

    def forget(self, what: str) -> None:
        """Nothing to undo any more (a draft is gone once booked)."""
        self._undo = [(w, a) for w, a in self._undo if w != what]

    def keep(self, what: str) -> None:
        """Something e-conomic does not let us delete: reported at the end."""
        self.forget(what)
        self.left.append(what)

    async def clean_up(self) -> None:
        for what, action in reversed(self._undo):
            try:
                await action()
            except EconomicError as exc:
                self.left.append(f"{what} (not deleted: {exc.reason})")
        if self.left:
            print(f"\n[{self.target}] left in the agreement, marked {self.mark}: {self.left}")


@pytest.fixture(params=["sandbox", "live"])
async def ledger(request: pytest.FixtureRequest, sandbox: Any) -> AsyncIterator[Ledger]:
    if request.param == "live":
        secret, grant = os.environ.get(LIVE_SECRET), os.environ.get(LIVE_GRANT)
        if not (secret and grant):
            pytest.skip(f"live e-conomic: set {LIVE_SECRET} and {LIVE_GRANT} (make contract-live)")
        base_url = os.environ.get(LIVE_BASE_URL, "https://restapi.e-conomic.com")
        client = EconomicClient(base_url, secret, grant)
    else:
        import httpx

        transport = RecordingTransport(httpx.ASGITransport(app=sandbox))
        client = EconomicClient(
            BASE_URL,
            APP_SECRET,
            f"grant-{uuid.uuid4().hex}",
            transport=transport,
            retry=CallRetry(backoff=0.01),
        )
    target = Ledger(client, request.param)
    try:
        yield target
    finally:
        await target.clean_up()
        await client.aclose()


async def _setup_for_a_sale(ledger: Ledger) -> tuple[int, int, int, int]:
    """(customer group, net payment terms, layout, VAT zone) to make a domestic customer with."""
    c = ledger.client
    groups = await c.list_customer_groups()
    terms = [t for t in await c.list_payment_terms() if t.payment_terms_type == "net"]
    layouts = [layout for layout in await c.list_layouts() if not layout.deleted]
    zones = [z for z in await c.list_vat_zones() if z.enabled_for_customer]
    if not (groups and terms and layouts and zones):
        pytest.skip("the agreement lacks a customer group, net payment terms, a layout or a zone")
    domestic = next((z for z in zones if z.name.lower() == "domestic"), zones[0])
    return (
        groups[0].customer_group_number,
        terms[0].payment_terms_number,
        layouts[0].layout_number,
        domestic.vat_zone_number,
    )


async def _customer(ledger: Ledger, **fields: Any) -> int:
    group, terms, _, zone = await _setup_for_a_sale(ledger)
    created = await ledger.client.create_customer(
        CustomerCreate(
            name=f"{ledger.mark} test customer",
            currency="DKK",
            customer_group=CustomerGroupRef(customer_group_number=group),
            payment_terms=PaymentTermsRef(payment_terms_number=terms),
            vat_zone=VatZoneRef(vat_zone_number=zone),
            email=f"{ledger.mark.lower()}@example.invalid",
            **fields,
        )
    )
    number = created.customer_number
    ledger.undo(f"customer {number}", lambda: ledger.client.delete_customer(number))
    return number


async def test_reference_data_reads_as_modelled(ledger: Ledger) -> None:
    c = ledger.client
    zones = await c.list_vat_zones()
    assert zones and all(z.name for z in zones)
    assert {t.payment_terms_type for t in await c.list_payment_terms()} <= TERMS_TYPES
    assert await c.list_layouts()
    codes = await c.list_vat_accounts()
    assert codes and all(0 <= v.rate_percentage <= 100 and len(v.vat_code) <= 5 for v in codes)
    for journal in await c.list_journals():
        assert journal.journal_number >= 1
    me = await c.get_self()
    assert me.company is not None


async def test_a_drafts_vat_is_what_the_vat_setup_gives(ledger: Ledger) -> None:
    """The chain product → group → sales account for the zone → VAT code → rate, and VAT per
    line rounded half-up to the cent, as the sandbox computes it (docs/sandbox.md "VAT")."""
    c = ledger.client
    _, terms, layout, zone = await _setup_for_a_sale(ledger)
    codes = {v.vat_code: v for v in await c.list_vat_accounts()}
    product_group = None
    groups = sorted(await c.list_product_groups(), key=lambda g: bool(g.inventory_enabled))
    for group in (g.product_group_number for g in groups):  # groups without stock first
        rate = ledger_rate("-", group, zone, await c.list_sales_accounts(group), codes)
        if rate.rate:  # a group that books VAT in the zone
            product_group, expected_rate = group, rate.rate
            break
    if product_group is None:
        pytest.skip(f"no product group books VAT in VAT zone {zone}")
    number = f"{ledger.mark}-P"
    await c.create_product(
        ProductCreate(
            product_number=number,
            name=f"{ledger.mark} product",
            product_group=ProductGroupRef(product_group_number=product_group),
            sales_price=Decimal("10.00"),
        )
    )
    ledger.undo(f"product {number}", lambda: c.delete_product(number))
    customer = await _customer(ledger)
    prices = (Decimal("33.33"), Decimal("0.05"), Decimal("19.99"))
    draft = await c.create_draft_invoice(
        DraftInvoiceCreate(
            date=dt.date.today(),
            currency="DKK",
            customer=CustomerRef(customer_number=customer),
            layout=LayoutRef(layout_number=layout),
            payment_terms=PaymentTermsRef(payment_terms_number=terms),
            recipient=Recipient(name=f"{ledger.mark}", vat_zone=VatZoneRef(vat_zone_number=zone)),
            references=References(other=ledger.mark),
            lines=[
                InvoiceLine(
                    line_number=i,
                    sort_key=i,
                    description=f"{ledger.mark} line {i}",
                    product=ProductRef(product_number=number),
                    quantity=Decimal(3),
                    unit_net_price=price,
                )
                for i, price in enumerate(prices, start=1)
            ],
        )
    )
    draft_number = draft.draft_invoice_number
    ledger.undo(f"draft invoice {draft_number}", lambda: c.delete_draft_invoice(draft_number))
    nets = [(3 * p).quantize(CENT, ROUND_HALF_UP) for p in prices]
    vat = sum(((n * expected_rate).quantize(CENT, ROUND_HALF_UP) for n in nets), Decimal(0))
    assert draft.net_amount == sum(nets)
    assert draft.vat_amount == vat
    assert draft.gross_amount == sum(nets) + vat
    if os.environ.get(LIVE_BOOK) != "1" and ledger.target == "live":
        return
    # Booking: irreversible. Booked lines carry the rate; the invoice is found by reference;
    # its customer and product can no longer be deleted.
    booked = await c.book_draft_invoice(draft_number)
    ledger.forget(f"draft invoice {draft_number}")
    ledger.left.append(f"booked invoice {booked.booked_invoice_number} (reference {ledger.mark})")
    assert {line.vat_rate for line in booked.lines} == {expected_rate * 100}
    found = await c.find_booked_invoices(reference=ledger.mark)
    assert [i.booked_invoice_number for i in found] == [booked.booked_invoice_number]
    with pytest.raises(EconomicError):
        await c.delete_customer(customer)
    ledger.keep(f"customer {customer}")
    ledger.keep(f"product {number}")


async def test_a_customer_and_its_contact_person_round_trip(ledger: Ledger) -> None:
    c = ledger.client
    number = await _customer(ledger, ean="5790000000005")
    [found] = await c.find_customers(f"email$eq:{ledger.mark.lower()}@example.invalid")
    assert found.customer_number == number and found.ean == "5790000000005"
    contact = await c.create_contact(number, ContactCreate(name=f"{ledger.mark} contact"))
    ledger.undo(
        f"contact {contact.customer_contact_number}",
        lambda: c.delete_contact(number, contact.customer_contact_number),
    )
    assert [x.customer_contact_number for x in await c.list_contacts(number)] == [
        contact.customer_contact_number
    ]


async def test_due_date_payment_terms_refuse_a_draft_without_a_due_date(ledger: Ledger) -> None:
    c = ledger.client
    due_terms = [t for t in await c.list_payment_terms() if t.payment_terms_type == "dueDate"]
    if not due_terms:
        pytest.skip("the agreement has no payment terms of type dueDate; create one to check")
    _, _, layout, zone = await _setup_for_a_sale(ledger)
    customer = await _customer(ledger)
    body = DraftInvoiceCreate(
        date=dt.date.today(),
        currency="DKK",
        customer=CustomerRef(customer_number=customer),
        layout=LayoutRef(layout_number=layout),
        payment_terms=PaymentTermsRef(payment_terms_number=due_terms[0].payment_terms_number),
        recipient=Recipient(name=ledger.mark, vat_zone=VatZoneRef(vat_zone_number=zone)),
        references=References(other=ledger.mark),
    )
    with pytest.raises(EconomicValidationError) as refused:
        await c.create_draft_invoice(body)
    assert "E04042" in {f.code for f in refused.value.field_errors}
    due = dt.date.today() + dt.timedelta(days=10)
    draft = await c.create_draft_invoice(body.model_copy(update={"due_date": due}))
    ledger.undo(
        f"draft invoice {draft.draft_invoice_number}",
        lambda: c.delete_draft_invoice(draft.draft_invoice_number),
    )
    assert draft.due_date == due
