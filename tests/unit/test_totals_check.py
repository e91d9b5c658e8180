"""The invoice's one total and VAT check before booking (lb_invoicing/totals_check.py): the
draft's gross and VAT as e-conomic computed them against the shop's, and, on failure, where the
shop's lines and the planned ones part."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lb_common.errors import PermanentError
from lb_common.orders import CanonicalOrder, OrderLine
from lb_invoicing.lines import plan_invoice
from lb_invoicing.policy import InvoiceSettings
from lb_invoicing.totals_check import DraftTotals, check_against_shop
from tests.unit.order_strategies import WHEN

SETTINGS = InvoiceSettings()
CENT = Decimal("0.01")


def _order(*lines: tuple[str, str, str], currency: str = "DKK") -> CanonicalOrder:
    """Lines as (unit price incl. VAT, shop VAT, the shop's rate), one unit each."""
    built = tuple(
        OrderLine(
            line_id=f"L{n}",
            sku="A",
            title=f"Product {n}",
            quantity=Decimal(1),
            unit_price=Decimal(price),
            tax=Decimal(tax),
            tax_rate=Decimal(rate),
        )
        for n, (price, tax, rate) in enumerate(lines, 1)
    )
    return CanonicalOrder(
        platform="shopify",
        shop="x",
        order_id="1",
        order_name="#1",
        version=WHEN,
        created_at=WHEN,
        currency=currency,
        taxes_included=True,
        lines=built,
        total_tax=sum((x.tax for x in built), Decimal(0)),
        total_price=sum((x.unit_price for x in built), Decimal(0)),
    )


def _draft(gross: str | None, vat: str | None) -> DraftTotals:
    return DraftTotals(
        number="7",
        gross=None if gross is None else Decimal(gross),
        vat=None if vat is None else Decimal(vat),
        ledger="e-conomic",
    )


def _refusal(order: CanonicalOrder, draft: DraftTotals, *, with_plan: bool = True) -> str:
    plan = plan_invoice(order, SETTINGS, frozenset({"A"})) if with_plan else None
    with pytest.raises(PermanentError) as refused:
        check_against_shop(order, draft, tolerance=CENT, plan=plan)
    return refused.value.reason


def test_a_draft_at_the_shops_figures_passes():
    order = _order(("125.00", "25.00", "0.25"), ("1.07", "0.11", "0.12"))
    plan = plan_invoice(order, SETTINGS, frozenset({"A"}))
    # e-conomic's 12 % of 0.96 is 0.12, a cent above the shop's 0.11: within the tolerance.
    check_against_shop(order, _draft("126.08", "25.12"), tolerance=CENT, plan=plan)
    check_against_shop(order, _draft(None, None), tolerance=CENT, plan=plan)


def test_a_customer_in_another_vat_zone_stops_with_both_figures_and_why():
    # A Danish order, 25 % included; the customer is in e-conomic's Abroad zone: no VAT.
    order = _order(("100.00", "20.00", "0.25"))
    reason = _refusal(order, _draft("80.00", "0.00"))
    assert reason.startswith(
        "The invoice total in e-conomic (DKK 80.00) differs from the shop's total (DKK 100.00) "
        "by 20.00. The VAT in e-conomic (DKK 0.00) differs from the VAT the shop charged "
        "(DKK 20.00) by 20.00, more than the 0.01 allowed. Draft invoice 7 is left unbooked"
    )
    # The plan itself matches the shop: the ledger's rates are what differs.
    assert (
        "At the shop's VAT rates the invoice lines come to DKK 20.00 VAT and DKK 100.00 in all, "
        "as the shop charged: e-conomic applied other VAT rates than the shop (DKK 0.00 VAT)."
    ) in reason


def test_a_shop_line_whose_vat_does_not_fit_its_rate_is_named():
    # The shop says 20 % but charged 25.00 on a net of 100.00; e-conomic computes 20 % (on a net
    # the plan moved by 2 cents towards the total, as far as it may).
    order = _order(("125.00", "25.00", "0.20"))
    reason = _refusal(order, _draft("120.02", "20.00"))
    assert "The VAT in e-conomic (DKK 20.00) differs from the VAT the shop charged" in reason
    assert (
        "Line by line: 'Product 1': the shop charged DKK 25.00 VAT on DKK 100.00, e-conomic "
        "calculates DKK 20.00 on DKK 100.02 (difference -5.00)."
    ) in reason


def test_a_draft_from_an_earlier_attempt_is_judged_on_its_totals_alone():
    order = _order(("100.00", "20.00", "0.25"))
    reason = _refusal(order, _draft("80.00", "0.00"), with_plan=False)
    assert "differs from the shop's total (DKK 100.00)" in reason
    assert "Line by line" not in reason and "At the shop's VAT rates" not in reason


def test_vat_in_a_currency_without_cents_is_judged_by_the_shops_rounding():
    # 1 003 VND + 25 %: the shop rounds the VAT to 251, e-conomic to the cent.
    order = _order(("1254", "251", "0.25"), currency="VND")
    check_against_shop(order, _draft("1254.00", "250.80"), tolerance=CENT)
    assert "more than the 0.505 allowed" in _refusal(order, _draft("1254.00", "250.00"))


def test_with_the_ledgers_vat_setup_the_reason_names_its_figures_and_vat_code():
    # The Abroad zone's account has ABR (0 %): the example of docs/invoicing-settings.md.
    from lb_connectors.economic.ledger_vat import LedgerRate
    from lb_connectors.ledger import ItemTaxRate

    order = _order(("100.00", "20.00", "0.25"))
    plan = plan_invoice(order, SETTINGS, frozenset({"A"}))
    rate = LedgerRate("A", 1, 3, 1120, "ABR", Decimal(0))  # as the e-conomic adapter says it
    rates = {"A": ItemTaxRate(item="A", rate=rate.rate, explanation=rate.explain())}
    with pytest.raises(PermanentError) as refused:
        check_against_shop(
            order, _draft("80.00", "0.00"), tolerance=CENT, plan=plan, ledger_rates=rates
        )
    reason = refused.value.reason
    assert (
        "Line by line, the shop's VAT beside e-conomic's: 'Product 1': the shop charged DKK 20.00 "
        "VAT on DKK 80.00, e-conomic calculates DKK 0.00 on DKK 80.00 (difference -20.00). In "
        "e-conomic product A is in product group 1, whose sales account 1120 for VAT zone 3 has "
        "VAT code ABR (0%)."
    ) in reason, reason
