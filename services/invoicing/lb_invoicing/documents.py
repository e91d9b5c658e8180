"""The draft invoice body e-conomic gets for an order (pure: the inputs are already fetched)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from lb_common.db import utcnow
from lb_common.errors import PermanentError
from lb_common.events import ResolvedCustomer
from lb_common.identifiers import NUMBER_FIX, ean_problem, normalise_ean
from lb_common.orders import Address, CanonicalOrder
from lb_connectors.economic import jsoncodec
from lb_connectors.economic.models import (
    BookedInvoice,
    ContactRef,
    Customer,
    CustomerGroupRef,
    CustomerRef,
    Delivery,
    DraftInvoiceCreate,
    InvoiceLine,
    LayoutRef,
    Notes,
    PaymentTermsRef,
    ProductRef,
    Recipient,
    References,
    VatZoneRef,
)
from lb_connectors.ledger.errors import ShopField
from lb_invoicing.lines import InvoicePlan, PlannedLine


def _street(address: Address) -> str | None:
    parts = [p.strip() for p in (address.address1, address.address2) if p and p.strip()]
    return "\n".join(parts) or None


def recipient_ean(order: CanonicalOrder) -> str | None:
    """The buyer's EAN number as e-conomic takes it ('579 0000 000005' → '5790000000005').

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
    """Where the draft's values filled from the shop came from, by e-conomic's field path, so a
    refusal names the shop field (see `blame_shop_fields`)."""
    out: dict[str, ShopField] = {}
    buyer = order.buyer
    if buyer is not None and buyer.ean:
        out["recipient.ean"] = ShopField("EAN number", buyer.ean, buyer.ean_source)
    for prefix, address, where in (
        ("recipient", order.billing_address, "the order's billing address"),
        ("delivery", order.shipping_address, "the order's shipping address"),
    ):
        if address is None:
            continue
        for name, what, value in (
            ("address", "street address", _street(address)),
            ("zip", "zip code", address.zip),
            ("city", "city", address.city),
            ("country", "country", address.country),
        ):
            if value:
                out[f"{prefix}.{name}"] = ShopField(what, value, where)
    return out


def recipient_name(order: CanonicalOrder, customer: Customer) -> str:
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
    return customer.name


def credit_note_body(
    invoice: BookedInvoice, lines: list[PlannedLine], *, reference: str, heading: str
) -> DraftInvoiceCreate:
    """A credit note: the original invoice's customer, recipient and terms, negative lines."""
    if invoice.recipient is None or invoice.layout is None or invoice.payment_terms is None:
        raise ValueError("the booked invoice lacks recipient, layout or payment terms")
    today = utcnow().date()
    return DraftInvoiceCreate(
        date=today,
        due_date=today,  # needed with payment terms of type dueDate, see draft_body
        currency=invoice.currency,
        customer=invoice.customer,
        layout=invoice.layout,
        payment_terms=PaymentTermsRef(
            payment_terms_number=invoice.payment_terms.payment_terms_number
        ),
        recipient=invoice.recipient,
        notes=Notes(
            heading=heading[:250],
            text_line1=f"Credits invoice {invoice.booked_invoice_number}",
        ),
        references=References(other=reference[:250]),
        lines=_lines(lines),
    )


def _lines(lines: list[PlannedLine] | tuple[PlannedLine, ...]) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            line_number=i,
            sort_key=i,
            description=line.description,
            product=ProductRef(product_number=line.product_number),
            quantity=line.quantity,
            unit_net_price=line.unit_net_price,
        )
        for i, line in enumerate(lines, start=1)
    ]


def draft_body(
    order: CanonicalOrder,
    customer: Customer,
    plan: InvoicePlan,
    layout: int,
    payment_terms: int | None = None,
    *,
    attention: int | None = None,
    due_days: int = 0,
) -> DraftInvoiceCreate:
    billing = order.billing_address
    shipping = order.shipping_address
    gateways = ", ".join(order.payment_gateways)
    invoice_date = order.created_at.date()
    return DraftInvoiceCreate(
        date=invoice_date,
        # Mandatory with payment terms of type dueDate, ignored (derived) with every other type
        # (schema invoices.drafts.post; EConomic.NET legacy-api-verification): always sent, so
        # no read of the terms' type is needed.
        due_date=invoice_date + timedelta(days=due_days),
        currency=order.currency,
        customer=CustomerRef(customer_number=customer.customer_number),
        layout=LayoutRef(layout_number=layout),
        payment_terms=PaymentTermsRef(
            payment_terms_number=payment_terms or customer.payment_terms.payment_terms_number
        ),
        recipient=Recipient(
            name=recipient_name(order, customer)[:250],
            vat_zone=customer.vat_zone,
            address=(_street(billing) or None) if billing else customer.address,
            zip=billing.zip if billing else customer.zip,
            city=billing.city if billing else customer.city,
            country=billing.country if billing else customer.country,
            ean=(ean := recipient_ean(order)),
            nem_handel_type="ean" if ean else None,
            attention=ContactRef(customer_contact_number=attention) if attention else None,
        ),
        delivery=Delivery(
            address=_street(shipping),
            zip=shipping.zip,
            city=shipping.city,
            country=shipping.country,
        )
        if shipping is not None and _street(shipping)
        else None,
        notes=Notes(
            heading=f"Webshop order {order.order_name}"[:250],
            text_line1=f"Paid with {gateways}"[:1000] if gateways else None,
        ),
        # The order key is how a lost reply is found again: never change its format lightly.
        references=References(
            other=order.order_key[:250],
            customer_contact=ContactRef(customer_contact_number=attention) if attention else None,
        ),
        lines=_lines(plan.lines),
    )


def customer_from_resolved(number: int, resolved: ResolvedCustomer) -> Customer:
    """The ledger customer as customer.resolved carried it (customers read or wrote it)."""
    return Customer(
        customer_number=number,
        name=resolved.name,
        currency=resolved.currency or "",
        customer_group=CustomerGroupRef(customer_group_number=int(resolved.group or 0)),
        payment_terms=PaymentTermsRef(payment_terms_number=int(resolved.payment_terms or 0)),
        vat_zone=VatZoneRef(vat_zone_number=int(resolved.tax_zone or 0)),
        layout=LayoutRef(layout_number=int(resolved.layout)) if resolved.layout else None,
        email=resolved.email,
        corporate_identification_number=resolved.vat_id,
        ean=resolved.ean,
        address=resolved.address,
        zip=resolved.zip,
        city=resolved.city,
        country=resolved.country,
    )


def line_products(body: DraftInvoiceCreate) -> dict[int, str]:
    """Line index → product number, to tell which product a refusal of `lines[i]` names."""
    return {i: line.product.product_number for i, line in enumerate(body.lines) if line.product}


def draft_key(reference: str, body: DraftInvoiceCreate) -> str:
    """The Idempotency-Key of a draft: the reference and a digest of the body. A resend of the
    same body (a retry in the client) is answered from e-conomic's idempotency store; a changed
    body (planned again after a refusal) is a new request, which e-conomic would refuse under
    the old key. A retry in a later attempt looks the reference up before it creates (book.py)."""
    digest = hashlib.sha256(jsoncodec.dumps(body.to_json_body()).encode()).hexdigest()[:16]
    return f"{reference}:draft:{digest}"
