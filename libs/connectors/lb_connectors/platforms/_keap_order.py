"""A fetched Keap order (REST v1 `GET /v1/orders/{id}`) with its contact (`GET
/v1/contacts/{id}`) → CanonicalOrder.

The body read here is the one ingest's fetcher stores: {"order": {...}, "contact": {...} | null,
"currency": "USD"}. Keap's order carries no currency (the account has one: `GET
/v1/account/profile` currency_code), and its contact reference carries no address, so the
fetcher adds both. For an order Keap deleted (a delete hook, and `GET /v1/orders/{id}` answers
404) the fetcher stores the last body it read with `"deleted": {"event_key", "timestamp"}`
added: the order is then cancelled at that time.

Refunds: Keap's order carries only `refund_total`, the amount refunded to date (no refund id,
no lines). Its transactions (`GET /v1/orders/{id}/transactions`: id, amount, type, status,
transaction_date) would give ids, but v1 documents no value of `type` that marks a refund, and
reading them is one more call per fetch against the key's 240 a minute. So an order with
refund_total > 0 carries one refund "refunded to date" (base.REFUNDED_TO_DATE), whose id is
that amount: stable across re-fetches, redeliveries and reconciliation, since the same figure
read again is the same id and a later refund raises it (a new id). ingest sends on the step
from the figure it last sent (refund_steps.py). Two refunds between two reads are one step.

Facts used (shared/reference/qbo-keap.md, section 6): money is a JSON number in the account's
currency; order_items[].type names shipping and tax lines ("Shipping", "Tax"); discounts and
specials come as items with a negative price; status DRAFT | SENT | VIEWED | PAID; contact
addresses have field BILLING | SHIPPING | OTHER, and country_code is ISO 3166-1 alpha-3.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from lb_common.events import Refund
from lb_common.orders import Address, Buyer, CanonicalOrder, OrderLine, ShippingLine

from ._customer import customer_type
from ._reader import ZERO, Obj, build, total
from .base import CustomerFieldMap, refunded_to_date_id

CENT = Decimal("0.01")
_SHIPPING = "shipping"
_TAX = "tax"

# ISO 3166-1 alpha-3 → alpha-2 for the countries our ledgers' VAT zones tell apart; another
# code is kept as the address's country text (the customer's VAT zone then falls to its default).
_ALPHA2 = {
    "AUS": "AU", "AUT": "AT", "BEL": "BE", "BGR": "BG", "CAN": "CA", "CHE": "CH", "CYP": "CY",
    "CZE": "CZ", "DEU": "DE", "DNK": "DK", "ESP": "ES", "EST": "EE", "FIN": "FI", "FRA": "FR",
    "FRO": "FO", "GBR": "GB", "GRC": "GR", "GRL": "GL", "HRV": "HR", "HUN": "HU", "IRL": "IE",
    "ISL": "IS", "ITA": "IT", "LTU": "LT", "LUX": "LU", "LVA": "LV", "MLT": "MT", "NLD": "NL",
    "NOR": "NO", "NZL": "NZ", "POL": "PL", "PRT": "PT", "ROU": "RO", "SVK": "SK", "SVN": "SI",
    "SWE": "SE", "USA": "US",
}  # fmt: skip


def order_from(body: Obj, *, shop: str, fields: CustomerFieldMap) -> CanonicalOrder:
    o = body.obj("order")
    contact = body.opt_obj("contact")
    items = o.objs("order_items")
    amounts = [(i, _kind(i), i.money("price") * i.money("quantity", Decimal(1))) for i in items]
    products = [(i, a) for i, k, a in amounts if k not in (_SHIPPING, _TAX) and a >= 0]
    shipping = [(i, a) for i, k, a in amounts if k == _SHIPPING]
    # A negative item (a discount or a special) lowers the order: spread over the product lines.
    discount = -total([a for _, k, a in amounts if k not in (_SHIPPING, _TAX) and a < 0])
    discounts = _spread(discount, [a for _, a in products])
    # Keap charges tax as one item for the order: spread over what it taxes (the product lines
    # after discount and the shipping), each with the one rate it implies.
    tax = total([a for _, k, a in amounts if k == _TAX])
    nets = [
        a - d - i.money("discount", ZERO) for (i, a), d in zip(products, discounts, strict=True)
    ] + [a for _, a in shipping]
    taxes = _spread(tax, nets)
    base = total(nets)
    rate = (tax / base).quantize(Decimal("0.0001")) if tax and base else None
    order_id = o.ident("id")
    created = o.opt_when("order_date", naive_is_utc=True) or o.when(
        "creation_date", naive_is_utc=True
    )
    # modification_date changes with every edit, so it orders competing fetches of one order.
    version = o.opt_when("modification_date", naive_is_utc=True) or created
    deleted = deleted_at(body)
    return build(
        CanonicalOrder,
        "order",
        platform="keap",
        shop=shop,
        order_id=order_id,
        order_name=o.clean_text("title") or order_id,
        # A deletion is the order's last change: it is never older than what was read before.
        version=max(version, deleted) if deleted else version,
        created_at=created,
        cancelled_at=deleted,
        currency=body.text("currency"),
        taxes_included=False,
        financial_status=_financial_status(o),
        buyer=_buyer(o, contact, fields),
        billing_address=_contact_address(contact, "BILLING"),
        shipping_address=_shipping_address(o.opt_obj("shipping_information"))
        or _contact_address(contact, "SHIPPING"),
        lines=tuple(
            _line(item, share, line_tax, rate)
            for (item, _), share, line_tax in zip(products, discounts, taxes, strict=False)
        ),
        shipping_lines=tuple(
            build(
                ShippingLine,
                item.path,
                line_id=item.ident("id"),
                title=item.clean_text("name") or "Shipping",
                price=amount,
                tax=line_tax,
                tax_rate=rate,
            )
            for (item, amount), line_tax in zip(shipping, taxes[len(products) :], strict=True)
        ),
        total_discounts=discount,
        total_tax=tax,
        total_price=o.money("total"),
        note=o.clean_text("notes"),
    )


def deleted_at(body: Obj) -> datetime | None:
    """When Keap deleted the order (the delete hook's timestamp), or None."""
    deleted = body.opt_obj("deleted")
    return deleted.when("timestamp", naive_is_utc=True) if deleted else None


def refunds_from(body: Obj) -> list[Refund]:
    """The amount refunded to date as one refund (see the module's docstring), or none."""
    o = body.obj("order")
    refunded = o.money("refund_total", ZERO)
    if refunded <= 0:
        return []
    when = deleted_at(body) or o.opt_when("modification_date", naive_is_utc=True)
    return [
        build(
            Refund,
            "order.refund_total",
            refund_id=refunded_to_date_id(refunded),
            created_at=when.isoformat() if when else "",
            currency=body.text("currency"),
            adjustments=refunded,
            total=refunded,
            note=f"Keap's refund_total is {refunded}",
        )
    ]


def _spread(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`amount` in cents shares by weight; the last takes what rounding leaves, so the shares
    add up to `amount` exactly."""
    whole = total(weights)
    shares: list[Decimal] = []
    for index, weight in enumerate(weights):
        if index == len(weights) - 1:
            shares.append(amount - total(shares))
        else:
            shares.append((amount * weight / whole).quantize(CENT) if whole else ZERO)
    return shares


def _line(item: Obj, discount: Decimal, tax: Decimal, rate: Decimal | None) -> OrderLine:
    product = item.opt_obj("product")
    return build(
        OrderLine,
        item.path,
        line_id=item.ident("id"),
        sku=product.clean_text("sku") if product else None,
        title=item.clean_text("name")
        or (product.clean_text("name") if product else None)
        or "Item",
        quantity=item.money("quantity"),
        unit_price=item.money("price"),
        discount=discount + item.money("discount", ZERO),
        tax=tax,
        tax_rate=rate,
        product_id=product.opt_id("id") if product else None,
    )


def _kind(item: Obj) -> str:
    return (item.clean_text("type") or "").lower()


def _financial_status(o: Obj) -> str:
    total_paid = o.money("total_paid", ZERO)
    refunded = o.money("refund_total", ZERO)
    if refunded > 0:
        return "refunded" if refunded >= total_paid else "partially_refunded"
    if (o.clean_text("status") or "").upper() == "PAID":
        return "paid"
    return "partially_paid" if total_paid > 0 else "pending"


def _buyer(o: Obj, contact: Obj | None, fields: CustomerFieldMap) -> Buyer | None:
    ref = o.opt_obj("contact")
    email = (ref.clean_text("email") if ref else None) or _email(contact)
    first = (contact.clean_text("given_name") if contact else None) or (
        ref.clean_text("first_name") if ref else None
    )
    last = (contact.clean_text("family_name") if contact else None) or (
        ref.clean_text("last_name") if ref else None
    )
    company_obj = contact.opt_obj("company") if contact else None
    company = (company_obj.clean_text("company_name") if company_obj else None) or (
        ref.clean_text("company_name") if ref else None
    )
    contact_id = (ref.opt_id("id") if ref else None) or (contact.opt_id("id") if contact else None)
    found: dict[str, Any] = dict(
        platform_customer_id=contact_id,
        email=email.lower() if email else None,
        phone=_phone(contact),
        first_name=first,
        last_name=last,
        company=company,
    )
    if not any(found.values()):
        return None
    kind = customer_type(vat_number=None, ean=None, company=company, fields=fields)
    return build(Buyer, "contact", **found, customer_type=kind)


def _email(contact: Obj | None) -> str | None:
    if contact is None:
        return None
    addresses = contact.objs("email_addresses")
    # EMAIL1 is the contact's primary address.
    ordered = sorted(addresses, key=lambda a: a.clean_text("field") != "EMAIL1")
    return next((e for a in ordered if (e := a.clean_text("email"))), None)


def _phone(contact: Obj | None) -> str | None:
    if contact is None:
        return None
    return next((p for n in contact.objs("phone_numbers") if (p := n.clean_text("number"))), None)


def _contact_address(contact: Obj | None, field: str) -> Address | None:
    if contact is None:
        return None
    found = next(
        (a for a in contact.objs("addresses") if (a.clean_text("field") or "") == field), None
    )
    if found is None:
        return None
    code = (found.clean_text("country_code") or "").upper()
    name = " ".join(
        filter(None, (contact.clean_text("given_name"), contact.clean_text("family_name")))
    )
    company = contact.opt_obj("company")
    return build(
        Address,
        found.path,
        name=name or None,
        company=company.clean_text("company_name") if company else None,
        address1=found.clean_text("line1"),
        address2=found.clean_text("line2"),
        city=found.clean_text("locality"),
        zip=found.clean_text("postal_code") or found.clean_text("zip_code"),
        province=found.clean_text("region"),
        country=None if code in _ALPHA2 else (code or None),
        country_code=_ALPHA2.get(code),
    )


def _shipping_address(info: Obj | None) -> Address | None:
    if info is None or not (info.clean_text("street1") or info.clean_text("city")):
        return None
    name = " ".join(filter(None, (info.clean_text("first_name"), info.clean_text("last_name"))))
    country = info.clean_text("country")
    return build(
        Address,
        info.path,
        name=name or None,
        company=info.clean_text("company"),
        address1=info.clean_text("street1"),
        address2=info.clean_text("street2"),
        city=info.clean_text("city"),
        zip=info.clean_text("zip"),
        province=info.clean_text("state"),
        country=country,
        country_code=_ALPHA2.get((country or "").upper()),
        phone=info.clean_text("phone"),
    )
