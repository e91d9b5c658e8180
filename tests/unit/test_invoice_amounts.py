"""Which amounts an invoice is in: the shop's currency, or the buyer's (presentment)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lb_common.errors import PermanentError
from lb_common.events import Refund
from lb_connectors.economic.ledger import neutral_document
from lb_connectors.economic.models import BookedInvoice
from lb_connectors.platforms.registry import get_adapter
from lb_invoicing.book import invoice_version
from lb_invoicing.credit import refund_lines
from lb_invoicing.lines import plan_invoice
from lb_invoicing.policy import InvoiceSettings
from tests.platforms.factories import shopify_json, shopify_order, with_presentment

SHOP = "demo-shop.myshopify.com"
KNOWN = frozenset({"MUG-BLACK", "SHIPPING"})
PRESENTMENT = InvoiceSettings(amounts="presentment")


def eur_order(**changes):
    body = shopify_order(
        lines=[{"sku": "MUG-BLACK", "price": "100.00", "quantity": 2, "discount": "20.00"}],
        shipping="50.00",
        **changes,
    )
    return get_adapter("shopify").parse_order(
        shopify_json(with_presentment(body, "EUR", "0.134")), shop=SHOP
    )


def test_shop_amounts_by_default():
    order = eur_order()
    assert invoice_version(order, InvoiceSettings()) is order


def test_presentment_amounts_plan_to_the_buyers_total():
    order = eur_order()
    chosen = invoice_version(order, PRESENTMENT)
    assert chosen is order.presentment
    assert chosen.currency == "EUR"
    plan = plan_invoice(chosen, PRESENTMENT, KNOWN)
    # 230.00 DKK incl. VAT × 0.134 = 30.82 EUR; lines are sent net of 25 % VAT, in EUR (shipping
    # a cent lower so that e-conomic's VAT rounding reaches the buyer's total).
    assert chosen.total_price == Decimal("30.82")
    assert [(line.quantity, line.unit_net_price) for line in plan.lines] == [
        (Decimal("2"), Decimal("9.65")),
        (Decimal("1"), Decimal("5.35")),
    ]


def test_presentment_without_foreign_amounts_is_the_order_itself():
    order = get_adapter("shopify").parse_order(shopify_json(shopify_order()), shop=SHOP)
    assert order.presentment is None
    assert invoice_version(order, PRESENTMENT) is order


def test_presentment_amounts_missing_from_a_foreign_order_stop_the_invoice():
    order = eur_order().model_copy(update={"presentment": None})
    with pytest.raises(PermanentError, match="no amounts in EUR"):
        invoice_version(order, PRESENTMENT)


def test_refund_in_another_currency_than_the_invoice_is_not_credited():
    invoice = neutral_document(  # as the e-conomic adapter gives it
        BookedInvoice.model_validate(
            {
                "bookedInvoiceNumber": 7,
                "date": "2025-03-01",
                "currency": "EUR",
                "customer": {"customerNumber": 1},
                "netAmount": "24.66",
                "vatAmount": "6.16",
                "grossAmount": "30.82",
            }
        )
    )
    refund = Refund(refund_id="1", created_at="2025-03-02", currency="DKK", total=Decimal("50"))
    with pytest.raises(PermanentError, match="is in DKK, but invoice 7 is in EUR"):
        refund_lines(refund, invoice, True, InvoiceSettings(refund_product="REFUND"))
