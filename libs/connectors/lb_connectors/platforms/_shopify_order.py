"""Shopify order body (REST Order resource) → CanonicalOrder.

Amounts come from the plain fields (`price`, `total_price`, ...), which are in the shop's
currency. When the buyer paid in another currency, the order's `presentment` is the same order
read from the `*_set.presentment_money` twins (`price_set`, `total_price_set`, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from lb_common.orders import Address, Buyer, CanonicalOrder, OrderLine, ShippingLine

from ._customer import customer_type
from ._reader import ZERO, Obj, build, first_named_match, name_value_pairs, single_rate, total
from .base import CustomerFieldMap

# Reads one amount: (object, plain key, default when absent) → amount.
Money = Callable[[Obj, str, Decimal | None], Decimal]

# The shop's amounts are the plain fields, read as they are.
_shop_money: Money = Obj.money

# The fields of an empty Buyer, which carries nothing an invoice could use: when a buyer's
# fields equal these (the comparison BaseModel.__eq__ makes), no Buyer is built at all.
_NO_BUYER = Buyer().model_dump()
_NONE: tuple[None, None] = (None, None)


class _NoPresentment(Exception):
    """The body lacks (or contradicts) a presentment amount: no presentment version."""


def _presentment_money(currency: str) -> Money:
    def read(o: Obj, key: str, default: Decimal | None = None) -> Decimal:
        bag = o.opt_obj(f"{key}_set")
        money = bag.opt_obj("presentment_money") if bag is not None else None
        if money is None or not money.has("amount"):
            if default is not None and not o.has(key):
                return default
            raise _NoPresentment
        code = money.clean_text("currency_code")
        if code is not None and code != currency:
            raise _NoPresentment
        return money.money("amount")

    return read


def order_from(o: Obj, *, shop: str, fields: CustomerFieldMap) -> CanonicalOrder:
    common: dict[str, Any] = dict(
        platform="shopify",
        shop=shop,
        order_id=o.ident("id"),
        order_name=o.clean_text("name") or o.ident("id"),
        # updated_at changes on every edit, so it orders competing deliveries of one order.
        version=o.when("updated_at"),
        created_at=o.when("created_at"),
    )
    currency = o.text("currency")
    common.update(
        presentment_currency=o.clean_text("presentment_currency"),
        taxes_included=o.flag("taxes_included"),
        financial_status=o.clean_text("financial_status") or "pending",
        fulfillment_status=o.clean_text("fulfillment_status"),
        cancelled_at=o.opt_when("cancelled_at"),
        test=o.flag("test"),
        payment_gateways=o.texts("payment_gateway_names"),
        source_name=o.clean_text("source_name"),
        buyer=_buyer(o, fields),
        billing_address=_address(o.opt_obj("billing_address")),
        shipping_address=_address(o.opt_obj("shipping_address")),
        note=o.clean_text("note"),
    )
    amounts = _amounts(o, _shop_money)
    return build(
        CanonicalOrder,
        "order",
        currency=currency,
        presentment=_presentment(o, common, currency),
        **common,
        **amounts,
    )


def _presentment(o: Obj, common: dict[str, Any], currency: str) -> CanonicalOrder | None:
    """The order in the buyer's currency, when that differs from the shop's and is all there."""
    buyer_currency = common["presentment_currency"]
    if buyer_currency is None or buyer_currency == currency:
        return None
    try:
        amounts = _amounts(o, _presentment_money(buyer_currency))
    except _NoPresentment:
        return None
    return build(
        CanonicalOrder, "order (presentment)", currency=buyer_currency, **common, **amounts
    )


def _amounts(o: Obj, money: Money) -> dict[str, Any]:
    return dict(
        lines=tuple(_line(li, money) for li in o.objs("line_items")),
        shipping_lines=tuple(
            _shipping_line(s, money) for s in o.objs("shipping_lines") if not s.flag("is_removed")
        ),
        total_discounts=money(o, "total_discounts", ZERO),
        total_tax=money(o, "total_tax", ZERO),
        total_price=money(o, "total_price", None),
    )


def _line(li: Obj, money: Money) -> OrderLine:
    tax_lines = li.objs("tax_lines")
    return build(
        OrderLine,
        li.path,
        line_id=li.ident("id"),
        sku=li.clean_text("sku"),
        # `name` carries the variant ("T-shirt - Blue / L"); `title` is the product only.
        title=li.clean_text("name") or li.text("title"),
        quantity=li.money("quantity"),
        unit_price=money(li, "price", None),
        # Not `total_discount`: Shopify leaves it at 0.00 while the allocations hold the
        # discount (see the HKD fixture), and it is slated for deprecation.
        discount=total([money(a, "amount", None) for a in li.objs("discount_allocations")]),
        tax=total([money(t, "price", None) for t in tax_lines]),
        tax_rate=_tax_rate(tax_lines),
        product_id=li.opt_id("product_id"),
        variant_id=li.opt_id("variant_id"),
        gift_card=li.flag("gift_card"),
    )


def _shipping_line(s: Obj, money: Money) -> ShippingLine:
    tax_lines = s.objs("tax_lines")
    return build(
        ShippingLine,
        s.path,
        line_id=s.ident("id"),
        title=s.clean_text("title") or s.clean_text("code") or "Shipping",
        price=money(s, "price", None),
        discount=total([money(a, "amount", None) for a in s.objs("discount_allocations")]),
        tax=total([money(t, "price", None) for t in tax_lines]),
        tax_rate=_tax_rate(tax_lines),
    )


def _tax_rate(tax_lines: list[Obj]) -> Decimal | None:
    return single_rate([r for t in tax_lines if (r := t.opt_money("rate")) is not None])


def _address(a: Obj | None) -> Address | None:
    if a is None:
        return None
    first, last = a.clean_text("first_name"), a.clean_text("last_name")
    values = dict(
        name=a.clean_text("name") or " ".join(p for p in (first, last) if p) or None,
        company=a.clean_text("company"),
        address1=a.clean_text("address1"),
        address2=a.clean_text("address2"),
        city=a.clean_text("city"),
        zip=a.clean_text("zip"),
        province=a.clean_text("province"),
        country=a.clean_text("country"),
        country_code=a.clean_text("country_code"),
        phone=a.clean_text("phone"),
    )
    # A redacted or empty address object carries nothing an invoice could use.
    return build(Address, a.path, **values) if any(values.values()) else None


def _has_name(a: Obj | None) -> bool:
    return a is not None and bool(a.clean_text("first_name") or a.clean_text("last_name"))


def _buyer(o: Obj, fields: CustomerFieldMap) -> Buyer | None:
    customer = o.opt_obj("customer")
    billing = o.opt_obj("billing_address")
    default = customer.opt_obj("default_address") if customer else None
    shipping = o.opt_obj("shipping_address")
    # The invoice is addressed to whoever pays; without a billing address (customer-less POS or
    # draft orders) the customer's saved address, then the shipping address, is the best guess.
    named = next((a for a in (billing, default, shipping, customer) if _has_name(a)), None)
    company_source = billing or default

    attributes = name_value_pairs(o.objs("note_attributes"), "name", "value")
    vat_name, vat_number = first_named_match(attributes, fields.shopify_vat_attributes) or _NONE
    ean_name, ean = first_named_match(attributes, fields.shopify_ean_attributes) or _NONE
    company = company_source.clean_text("company") if company_source else None

    values = dict(
        platform_customer_id=customer.opt_id("id") if customer else None,
        email=(
            o.clean_text("email")
            or o.clean_text("contact_email")
            or (customer.clean_text("email") if customer else None)
        ),
        phone=(
            o.clean_text("phone")
            or (customer.clean_text("phone") if customer else None)
            or (billing.clean_text("phone") if billing else None)
        ),
        first_name=named.clean_text("first_name") if named else None,
        last_name=named.clean_text("last_name") if named else None,
        company=company,
        vat_number=vat_number,
        ean=ean,
        vat_number_field=f"note attribute '{vat_name}'" if vat_name else None,
        ean_field=f"note attribute '{ean_name}'" if ean_name else None,
        customer_type=customer_type(vat_number=vat_number, ean=ean, company=company, fields=fields),
    )
    return Buyer(**values) if values != _NO_BUYER else None
