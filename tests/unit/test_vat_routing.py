"""VAT treatment, VAT routes, the ledger's VAT rate per product, and the e-invoice and journal
preconditions: plain functions over plain data."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from lb_common.errors import PermanentError
from lb_common.vat_treatment import vat_treatment
from lb_connectors.economic.einvoice import credit_send_by, ean_problems
from lb_connectors.economic.journal_check import journal_problem
from lb_connectors.economic.ledger_vat import ledger_rate
from lb_connectors.economic.models import (
    BookedInvoice,
    Customer,
    CustomerGroupRef,
    CustomerRef,
    PaymentTermsRef,
    Recipient,
    VatZoneRef,
)
from lb_connectors.economic.setup_models import (
    GroupSalesAccount,
    Journal,
    JournalSettings,
    SalesAccountDetail,
    VatAccount,
    VatCodeRef,
)
from lb_invoicing.lines import InvoicePlan, PlannedLine
from lb_invoicing.policy import VatRoute
from lb_invoicing.vat_routing import route_plan


def _line(product: str, rate: str | None, description: str = "Mug") -> PlannedLine:
    return PlannedLine(
        product_number=product,
        description=description,
        quantity=Decimal(1),
        unit_net_price=Decimal("100.00"),
        sku=product,
        vat_rate=Decimal(rate) if rate is not None else None,
    )


@pytest.mark.parametrize(
    ("country", "business", "expected"),
    [
        ("DK", False, "domestic"),
        (None, True, "domestic"),
        ("de", False, "eu_oss"),
        ("DE", True, "eu_reverse_charge"),
        ("NO", False, "abroad"),
        ("US", True, "abroad"),
    ],
)
def test_vat_treatment(country: str | None, business: bool, expected: str) -> None:
    assert vat_treatment(country, business=business) == expected


def test_routes_move_oss_lines_to_the_countrys_product_and_keep_the_rest() -> None:
    plan = InvoicePlan((_line("MUG", "0.19"), _line("SHIPPING", "0.19", "Shipping")))
    routes = (
        VatRoute(treatment="eu_oss", country="SE", product="OSS-SE"),
        VatRoute(treatment="eu_oss", country="DE", rate=Decimal("0.19"), product="OSS-DE"),
    )
    routed = route_plan(plan, routes, "eu_oss", "DE", {"MUG": 1, "SHIPPING": 2})
    assert [line.product_number for line in routed.lines] == ["OSS-DE", "OSS-DE"]
    assert [line.sku for line in routed.lines] == ["MUG", "SHIPPING"]  # kept for the records
    assert any("booked on product OSS-DE" in note for note in routed.notes)
    # Another country, another rate, or a domestic sale: no route, lines unchanged.
    assert route_plan(plan, routes, "eu_oss", "FR", {}).lines == plan.lines
    assert route_plan(plan, routes, "domestic", None, {}).lines == plan.lines
    other_rate = InvoicePlan((_line("MUG", "0.07"),))
    assert route_plan(other_rate, routes[1:], "eu_oss", "DE", {}).lines == other_rate.lines


def test_a_group_route_keeps_products_in_the_group_and_names_those_outside() -> None:
    plan = InvoicePlan((_line("MUG", "0"),))
    keep = (VatRoute(treatment="eu_reverse_charge", product_group=5),)
    assert route_plan(plan, keep, "eu_reverse_charge", "DE", {"MUG": 5}).lines == plan.lines
    with pytest.raises(PermanentError) as refused:
        route_plan(plan, keep, "eu_reverse_charge", "DE", {"MUG": 1})
    assert "product MUG is in product group 1" in refused.value.reason
    assert "Move the product to group 5" in refused.value.reason
    fallback = (VatRoute(treatment="eu_reverse_charge", product_group=5, product="EU-B2B"),)
    routed = route_plan(plan, fallback, "eu_reverse_charge", "DE", {"MUG": 1})
    assert [line.product_number for line in routed.lines] == ["EU-B2B"]


def test_a_route_needs_a_product_or_group_and_a_real_country() -> None:
    with pytest.raises(ValidationError):
        VatRoute(treatment="abroad")
    with pytest.raises(ValidationError):
        VatRoute(treatment="eu_oss", country="Germany", product="X")


def _sales(*zones: tuple[int, int, str | None]) -> list[GroupSalesAccount]:
    return [
        GroupSalesAccount(
            vat_zone=VatZoneRef(vat_zone_number=zone),
            sales_account=SalesAccountDetail(
                account_number=account,
                vat_account=VatCodeRef(vat_code=code) if code else None,
            ),
        )
        for zone, account, code in zones
    ]


def test_ledger_rate_follows_group_account_and_code() -> None:
    codes = {
        "U25": VatAccount(vat_code="U25", rate_percentage=Decimal("25")),
        "FI255": VatAccount(vat_code="FI255", rate_percentage=Decimal("25.5")),
    }
    sales = _sales((1, 1100, "U25"), (2, 1110, "UEUV"), (4, 1130, None), (5, 1140, "FI255"))
    domestic = ledger_rate("MUG", 1, 1, sales, codes)
    assert domestic.rate == Decimal("0.25")
    assert "sales account 1100 for VAT zone 1 has VAT code U25 (25%)" in domestic.explain()
    assert ledger_rate("MUG", 1, 5, sales, codes).rate == Decimal("0.255")
    assert ledger_rate("MUG", 1, 4, sales, codes).rate == 0  # no VAT code: 0 %
    assert ledger_rate("MUG", 1, 2, sales, codes).rate is None  # a code we do not know
    missing = ledger_rate("MUG", 1, 3, sales, codes)
    assert missing.rate is None and "no sales account for VAT zone 3" in missing.explain()


def _customer(ean: str | None) -> Customer:
    return Customer(
        customer_number=7,
        name="Kommunen",
        currency="DKK",
        customer_group=CustomerGroupRef(customer_group_number=1),
        payment_terms=PaymentTermsRef(payment_terms_number=1),
        vat_zone=VatZoneRef(vat_zone_number=1),
        ean=ean,
    )


def test_ean_problems_name_what_the_bookkeeper_must_fix() -> None:
    ean = "5790000000005"
    assert ean_problems("12345674", _customer(ean), ean, "#1001") == []
    [cvr, missing] = ean_problems(None, _customer(None), ean, "#1001")
    assert "agreement has no CVR number" in cvr
    assert f"Enter EAN {ean} on customer 7" in missing
    [other] = ean_problems("12345674", _customer("5790000000012"), ean, "#1001")
    assert "has EAN 5790000000012, but order #1001 is for EAN 5790000000005" in other


def test_a_credit_note_goes_by_ean_when_its_invoice_did() -> None:
    def invoice(ean: str | None) -> BookedInvoice:
        return BookedInvoice(
            booked_invoice_number=1,
            date="2026-05-03",
            currency="DKK",
            customer=CustomerRef(customer_number=7),
            net_amount=Decimal(100),
            vat_amount=Decimal(25),
            gross_amount=Decimal(125),
            recipient=Recipient(name="K", vat_zone=VatZoneRef(vat_zone_number=1), ean=ean),
        )

    assert credit_send_by(invoice("5790000000005"), ean_einvoice=True) == "EAN"
    assert credit_send_by(invoice("5790000000005"), ean_einvoice=False) is None
    assert credit_send_by(invoice(None), ean_einvoice=True) is None


def test_a_journal_restricted_to_another_type_is_refused_naming_those_that_take_it() -> None:
    journals = [
        Journal(journal_number=1, name="Webshop"),
        Journal(
            journal_number=2,
            name="Indbetalinger",
            settings=JournalSettings(entry_type_restricted_to="customerPayment"),
        ),
        Journal(
            journal_number=3,
            name="Finans",
            settings=JournalSettings(entry_type_restricted_to="financeVoucher"),
        ),
    ]
    assert journal_problem(journals, 2, "customerPayment") is None
    assert journal_problem(journals, 1, "customerPayment") is None
    problem = journal_problem(journals, 3, "customerPayment")
    assert problem is not None
    assert "Journal 3 ('Finans') takes only entries of type financeVoucher" in problem
    assert "1 ('Webshop'), 2 ('Indbetalinger')" in problem
    assert "Journal 9 does not exist" in (journal_problem(journals, 9, "customerPayment") or "")
