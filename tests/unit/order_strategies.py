"""Hypothesis strategies for CanonicalOrder objects whose totals add up the way a shop adds them.

Built directly as CanonicalOrder (no platform body), so any currency and rate mix is reachable:

- amounts (prices, discounts) have the currency's own number of decimals (0 for VND/JPY, 3 for
  KWD); unit prices 1 minor unit to 99 999, quantities 1 to 50, 1 to 8 lines;
- the discount is any amount from 0 to the line amount, allocated to the line (as Shopify's
  discount_allocations and WooCommerce's subtotal − total do);
- VAT per line at a rate from {0, 6, 12, 25 %}, rounded half-up per line to the currency's
  exponent: on the discounted amount when prices exclude VAT, and as the VAT part of it when
  prices include VAT (amount × rate / (1 + rate));
- total_price is the sum of the rounded lines (+ VAT when prices exclude it), total_tax the sum
  of the line VAT.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import strategies as st

from lb_common.money import exponent, round_money
from lb_common.orders import CanonicalOrder, OrderLine, ShippingLine

CURRENCIES = ("DKK", "EUR", "VND", "JPY", "KWD")
RATES = (Decimal("0"), Decimal("0.06"), Decimal("0.12"), Decimal("0.25"))
SKUS = ("A", "B", "C", "D")  # few, so that several lines share a product
WHEN = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def shop_vat(amount: Decimal, rate: Decimal, taxes_included: bool, currency: str) -> Decimal:
    """The VAT a shop charges on one line, rounded half-up per line."""
    vat = amount * rate / (1 + rate) if taxes_included else amount * rate
    return round_money(vat, currency)


def amounts(currency: str, low: Decimal, high: Decimal) -> st.SearchStrategy[Decimal]:
    """Amounts from low to high in the currency's minor unit."""
    e = exponent(currency)
    scale = 10**e
    return st.integers(int(low * scale), int(high * scale)).map(lambda n: Decimal(n).scaleb(-e))


@st.composite
def order_lines(draw: st.DrawFn, currency: str, taxes_included: bool, number: int) -> OrderLine:
    quantity = draw(st.integers(1, 50))
    unit = draw(amounts(currency, Decimal("0.01"), Decimal("99999")).filter(lambda a: a > 0))
    amount = unit * quantity
    discount = draw(st.one_of(st.just(Decimal(0)), amounts(currency, Decimal(0), amount)))
    rate = draw(st.sampled_from(RATES))
    tax = shop_vat(amount - discount, rate, taxes_included, currency)
    return OrderLine(
        line_id=f"L{number}",
        sku=draw(st.sampled_from(SKUS)),
        title=f"Product {number}",
        quantity=Decimal(quantity),
        unit_price=unit,
        discount=discount,
        tax=tax,
        tax_rate=rate,
    )


@st.composite
def shipping_lines(draw: st.DrawFn, currency: str, taxes_included: bool) -> ShippingLine:
    price = draw(amounts(currency, Decimal(0), Decimal(500)))
    rate = draw(st.sampled_from(RATES))
    return ShippingLine(
        line_id="S1",
        title="Standard",
        price=price,
        tax=shop_vat(price, rate, taxes_included, currency),
        tax_rate=rate,
    )


@st.composite
def canonical_orders(draw: st.DrawFn) -> CanonicalOrder:
    currency = draw(st.sampled_from(CURRENCIES))
    taxes_included = draw(st.booleans())
    count = draw(st.integers(1, 8))
    lines = [draw(order_lines(currency, taxes_included, n)) for n in range(1, count + 1)]
    shipping = draw(st.lists(shipping_lines(currency, taxes_included), max_size=1))
    gross = sum(
        (
            line.unit_price * line.quantity - line.discount + (0 if taxes_included else line.tax)
            for line in lines
        ),
        Decimal(0),
    ) + sum((s.price + (0 if taxes_included else s.tax) for s in shipping), Decimal(0))
    return CanonicalOrder(
        platform="shopify",
        shop="x",
        order_id="1",
        order_name="#1001",
        version=WHEN,
        created_at=WHEN,
        currency=currency,
        taxes_included=taxes_included,
        lines=tuple(lines),
        shipping_lines=tuple(shipping),
        total_discounts=sum((line.discount for line in lines), Decimal(0)),
        total_tax=sum((x.tax for x in lines), Decimal(0))
        + sum((s.tax for s in shipping), Decimal(0)),
        total_price=gross,
    )
