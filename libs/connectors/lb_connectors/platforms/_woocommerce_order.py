"""WooCommerce order body (REST v3 order) → CanonicalOrder and Refunds.

WooCommerce stores line amounts excluding tax even in a shop that shows prices including tax
(`prices_include_tax`). The canonical `unit_price` is "as the shop showed it", so for such shops
the tax is added back to prices, discounts and shipping.
"""

from __future__ import annotations

import html
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from lb_common.events import Refund
from lb_common.orders import Address, Buyer, CanonicalOrder, OrderLine, ShippingLine

from ._customer import customer_type
from ._reader import ZERO, Obj, build, first_named_match, name_value_pairs, single_rate
from .base import CustomerFieldMap, TopicKind

# WooCommerce order status → the canonical (Shopify-style) financial status.
FINANCIAL_STATUS: dict[str, str] = {
    "pending": "pending",
    "on-hold": "pending",
    "processing": "paid",
    "completed": "paid",
    "refunded": "refunded",
    "cancelled": "voided",
    "failed": "voided",
    "trash": "voided",
}
CANCELLED_STATUSES = frozenset({"cancelled", "failed", "trash"})
_UNIT_PRICE_QUANTUM = Decimal("0.000001")
# The fields of an empty Buyer, which carries nothing an invoice could use: when a buyer's
# fields equal these (the comparison BaseModel.__eq__ makes), no Buyer is built at all.
_NO_BUYER = Buyer().model_dump()
_NONE: tuple[None, None] = (None, None)


def order_kind(o: Obj) -> TopicKind:
    status = (o.clean_text("status") or "").lower()
    return TopicKind.CANCELLED if status in CANCELLED_STATUSES else TopicKind.ORDER


def order_from(o: Obj, *, shop: str, fields: CustomerFieldMap) -> CanonicalOrder:
    incl = o.flag("prices_include_tax")
    status = (o.clean_text("status") or "pending").lower()
    version = _modified(o)
    rates = _rates_by_id(o)
    lines = [_line(li, incl, rates) for li in o.objs("line_items")]
    # Fees (surcharges, or negative "discount" fees added by plugins) are part of the total, and
    # an invoice line is the only place they fit.
    lines += [_fee_line(f, incl, rates) for f in o.objs("fee_lines")]
    discount = o.money("discount_total", ZERO) + (o.money("discount_tax", ZERO) if incl else ZERO)
    number = o.clean_text("number") or o.ident("id")
    return build(
        CanonicalOrder,
        "order",
        platform="woocommerce",
        shop=shop,
        order_id=o.ident("id"),
        # WooCommerce shows orders as "#727" in admin and e-mails.
        order_name=f"#{number}",
        version=version,
        created_at=o.when("date_created_gmt", naive_is_utc=True),
        currency=o.text("currency"),
        taxes_included=incl,
        financial_status=FINANCIAL_STATUS.get(status, "pending"),
        fulfillment_status="fulfilled" if status == "completed" else None,
        # The body has no cancellation time; the last modification is when the status changed
        # as far as this payload can tell.
        cancelled_at=version if status in CANCELLED_STATUSES else None,
        payment_gateways=tuple(p for p in [o.clean_text("payment_method")] if p),
        source_name=o.clean_text("created_via"),
        buyer=_buyer(o, fields),
        billing_address=_address(o.opt_obj("billing")),
        shipping_address=_address(o.opt_obj("shipping")),
        lines=tuple(lines),
        shipping_lines=tuple(_shipping_line(s, incl, rates) for s in o.objs("shipping_lines")),
        total_discounts=discount,
        total_tax=o.money("total_tax", ZERO),
        total_price=o.money("total"),
        note=o.clean_text("customer_note"),
    )


def refunds_from(o: Obj) -> list[Refund]:
    currency = o.text("currency")
    # A refund summary has no date of its own; the order's modification time is the closest.
    created_at = _modified(o).isoformat()
    refunds = []
    for r in o.objs("refunds"):
        # WooCommerce reports refunds as negative totals ("-5.00"); Refund counts money back to
        # the buyer as positive. abs() also tolerates plugins that send it positive.
        amount = abs(r.money("total"))
        refund = build(
            Refund,
            r.path,
            refund_id=r.ident("id"),
            created_at=created_at,
            currency=currency,
            adjustments=amount,
            total=amount,
            note=r.clean_text("reason"),
        )
        refunds.append(refund)
    return refunds


def _modified(o: Obj) -> datetime:
    # `date_modified` is site-local time without an offset; the `_gmt` twin is UTC.
    return o.when("date_modified_gmt", naive_is_utc=True)


def _rates_by_id(o: Obj) -> dict[str, Decimal]:
    """Tax rate per rate id, from tax_lines[].rate_percent where the shop's version sends it."""
    rates: dict[str, Decimal] = {}
    for t in o.objs("tax_lines"):
        rate_id, percent = t.opt_id("rate_id"), t.opt_money("rate_percent")
        if rate_id is not None and percent is not None:
            rates[rate_id] = percent / 100
    return rates


def _rate(item: Obj, rates: dict[str, Decimal]) -> Decimal | None:
    charged = [t.opt_id("id") for t in item.objs("taxes") if t.money("total", ZERO) != 0]
    found = [rates[i] for i in charged if i is not None and i in rates]
    return single_rate(found) if len(found) == len(charged) else None


def _line(li: Obj, incl: bool, rates: dict[str, Decimal]) -> OrderLine:
    quantity = li.money("quantity")
    # `subtotal` is before discounts, `total` after, both excluding tax. `price` (a JSON number)
    # is total / quantity, i.e. already discounted, so it is read only to validate it.
    li.opt_money("price")
    before = li.money("subtotal") + (li.money("subtotal_tax", ZERO) if incl else ZERO)
    after = li.money("total") + (li.money("total_tax", ZERO) if incl else ZERO)
    return build(
        OrderLine,
        li.path,
        line_id=li.ident("id"),
        sku=li.clean_text("sku"),
        # Names arrive HTML-escaped ("Ship Your Idea &ndash; Color: Black").
        title=html.unescape(li.text("name")).strip(),
        quantity=quantity,
        unit_price=_per_unit(before, quantity),
        discount=before - after,
        tax=li.money("total_tax", ZERO),
        tax_rate=_rate(li, rates),
        product_id=_nonzero_id(li, "product_id"),
        variant_id=_nonzero_id(li, "variation_id"),
    )


def _fee_line(f: Obj, incl: bool, rates: dict[str, Decimal]) -> OrderLine:
    tax = f.money("total_tax", ZERO)
    return build(
        OrderLine,
        f.path,
        line_id=f.ident("id"),
        title=html.unescape(f.clean_text("name") or "Fee"),
        kind="fee",
        quantity=Decimal(1),
        unit_price=f.money("total") + (tax if incl else ZERO),
        tax=tax,
        tax_rate=_rate(f, rates),
    )


def _shipping_line(s: Obj, incl: bool, rates: dict[str, Decimal]) -> ShippingLine:
    tax = s.money("total_tax", ZERO)
    return build(
        ShippingLine,
        s.path,
        line_id=s.ident("id"),
        title=html.unescape(s.clean_text("method_title") or "Shipping"),
        price=s.money("total") + (tax if incl else ZERO),
        tax=tax,
        tax_rate=_rate(s, rates),
    )


def _per_unit(amount: Decimal, quantity: Decimal) -> Decimal:
    if quantity == 0:
        return amount  # WooCommerce itself divides by max(1, quantity)
    unit = amount / quantity
    if unit * quantity == amount:
        return unit
    # 10.00 for 3 units has no exact unit price; keep enough digits that unit × quantity
    # still rounds back to the line amount.
    try:
        return unit.quantize(_UNIT_PRICE_QUANTUM, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # too many digits to quantize (absurd quantities): keep as is
        return unit


def _nonzero_id(o: Obj, key: str) -> str | None:
    # WooCommerce uses 0 for "none" (no variation, deleted product).
    value = o.opt_id(key)
    return None if value in (None, "0") else value


def _address(a: Obj | None) -> Address | None:
    if a is None:
        return None
    first, last = a.clean_text("first_name"), a.clean_text("last_name")
    values = dict(
        name=" ".join(p for p in (first, last) if p) or None,
        company=a.clean_text("company"),
        address1=a.clean_text("address_1"),
        address2=a.clean_text("address_2"),
        city=a.clean_text("city"),
        zip=a.clean_text("postcode"),
        province=a.clean_text("state"),
        country_code=a.clean_text("country"),  # WooCommerce sends only the ISO code
        phone=a.clean_text("phone"),
    )
    # A redacted or empty address object carries nothing an invoice could use.
    return build(Address, a.path, **values) if any(values.values()) else None


def _buyer(o: Obj, fields: CustomerFieldMap) -> Buyer | None:
    billing = o.opt_obj("billing")
    shipping = o.opt_obj("shipping")
    named = next(
        (
            a
            for a in (billing, shipping)
            if a and (a.clean_text("first_name") or a.clean_text("last_name"))
        ),
        None,
    )
    meta = name_value_pairs(o.objs("meta_data"), "key", "value")
    vat_key, vat_number = first_named_match(meta, fields.woocommerce_vat_meta_keys) or _NONE
    ean_key, ean = first_named_match(meta, fields.woocommerce_ean_meta_keys) or _NONE
    company = billing.clean_text("company") if billing else None
    customer_id = _nonzero_id(o, "customer_id")  # 0 = guest checkout
    values = dict(
        platform_customer_id=customer_id,
        email=billing.clean_text("email") if billing else None,
        phone=billing.clean_text("phone") if billing else None,
        first_name=named.clean_text("first_name") if named else None,
        last_name=named.clean_text("last_name") if named else None,
        company=company,
        vat_number=vat_number,
        ean=ean,
        vat_number_field=f"meta field '{vat_key}'" if vat_key else None,
        ean_field=f"meta field '{ean_key}'" if ean_key else None,
        customer_type=customer_type(vat_number=vat_number, ean=ean, company=company, fields=fields),
    )
    return Buyer(**values) if values != _NO_BUYER else None
