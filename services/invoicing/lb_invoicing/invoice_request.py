"""The document request a ledger gets for an order's invoice (pure: the inputs are already
fetched), in the ledger port's neutral terms: the adapter turns it into its own body."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from lb_common.errors import PermanentError
from lb_common.identifiers import NUMBER_FIX, ean_problem, normalise_ean
from lb_common.orders import Address, CanonicalOrder
from lb_connectors.ledger import (
    ContactPerson,
    DocumentLine,
    DocumentRequest,
    LedgerCustomer,
    PostalAddress,
    ShopField,
)
from lb_invoicing.lines import InvoicePlan
from lb_invoicing.policy import InvoiceSettings


def _street_lines(address: Address) -> tuple[str, ...]:
    return tuple(p.strip() for p in (address.address1, address.address2) if p and p.strip())


def recipient_ean(order: CanonicalOrder) -> str | None:
    """The buyer's EAN number as ledgers take it ('579 0000 000005' → '5790000000005').

    Raises PermanentError, naming the shop field and the value, when the order carries an EAN
    number that cannot be one: an invoice to the wrong EAN location is worse than none.
    """
    buyer = order.buyer
    if buyer is None or (ean := normalise_ean(buyer.ean)) is None:
        return None
    if problem := ean_problem(buyer.ean, buyer.ean_source):
        raise PermanentError(f"{problem} {NUMBER_FIX}")
    return ean


def shop_fields(order: CanonicalOrder) -> dict[str, ShopField]:
    """Where the request's values filled from the shop came from, by the port's neutral path
    ("buyer_ean", "bill_to.zip", "ship_to.city"), so a refusal names the shop field."""
    out: dict[str, ShopField] = {}
    buyer = order.buyer
    if buyer is not None and buyer.ean:
        out["buyer_ean"] = ShopField("EAN number", buyer.ean, buyer.ean_source)
    for prefix, address, where in (
        ("bill_to", order.billing_address, "the order's billing address"),
        ("ship_to", order.shipping_address, "the order's shipping address"),
    ):
        if address is None:
            continue
        street = "\n".join(_street_lines(address)) or None
        for name, what, value in (
            ("address", "street address", street),
            ("zip", "zip code", address.zip),
            ("city", "city", address.city),
            ("country", "country", address.country),
        ):
            if value:
                out[f"{prefix}.{name}"] = ShopField(what, value, where)
    return out


def recipient_name(order: CanonicalOrder, customer_name: str) -> str:
    """The buyer's own name on the invoice, even when the sale is booked on a shared customer."""
    address = order.billing_address
    if (
        address is not None
        and address.company
        and order.buyer
        and order.buyer.customer_type != "b2c"
    ):
        return address.company
    if address is not None and address.name:
        return address.name
    if order.buyer is not None and order.buyer.full_name:
        return order.buyer.full_name
    return customer_name


def reference_person(order: CanonicalOrder, customer_name: str) -> ContactPerson:
    """The buyer's reference person (a ledger sending e-invoices may need one)."""
    buyer = order.buyer
    billing = order.billing_address
    name = (
        (buyer.full_name if buyer else "")
        or (billing.name if billing else None)
        or (buyer.email if buyer else None)
        or customer_name
    )
    return ContactPerson(name=name[:255], email=buyer.email if buyer else None)


def invoice_request(
    order: CanonicalOrder,
    customer: LedgerCustomer,
    plan: InvoicePlan,
    settings: InvoiceSettings,
    *,
    send_by: Literal["EAN"] | None,
    read_before: datetime,
) -> DocumentRequest:
    billing = order.billing_address
    shipping = order.shipping_address
    gateways = ", ".join(order.payment_gateways)
    invoice_date = order.created_at.date()
    name = recipient_name(order, customer.name)[:250]
    options = dict(settings.ledger_options)
    if settings.layout is not None:
        options["layout"] = str(settings.layout)
    if settings.payment_terms is not None:
        options["payment_terms"] = str(settings.payment_terms)
    return DocumentRequest(
        kind="invoice",
        # The order key is how a lost reply is found again: never change its format lightly.
        reference=order.order_key,
        customer_id=customer.id,
        currency=order.currency,
        date=invoice_date,
        # Always sent: e-conomic needs one with payment terms of type dueDate and derives it
        # (ignoring ours) otherwise, so no read of the terms' type is needed.
        due_date=invoice_date + timedelta(days=settings.due_days),
        lines=tuple(
            DocumentLine(
                item=line.product_number,
                description=line.description,
                quantity=line.quantity,
                unit_net_price=line.unit_net_price,
            )
            for line in plan.lines
        ),
        book=settings.book,
        # Without a billing address the name alone: the ledger prints the customer's address.
        bill_to=(
            PostalAddress(
                name=name,
                lines=_street_lines(billing),
                zip=billing.zip,
                city=billing.city,
                country=billing.country,
            )
            if billing is not None
            else PostalAddress(name=name)
        ),
        ship_to=(
            PostalAddress(
                lines=_street_lines(shipping),
                zip=shipping.zip,
                city=shipping.city,
                country=shipping.country,
            )
            if shipping is not None and _street_lines(shipping)
            else None
        ),
        buyer_ean=recipient_ean(order),
        heading=f"Webshop order {order.order_name}",
        notes=f"Paid with {gateways}" if gateways else None,
        send_by=send_by,
        options=options,
        order_name=order.order_name,
        contact=reference_person(order, customer.name),
        shop_fields=shop_fields(order),
        read_before=read_before,
        tax=order.total_tax,
    )
