"""The credit note body e-conomic gets for a refund or cancellation (pure: the inputs are
already fetched). Invoices go through the ledger port (book.py, invoice_request.py); credit
notes still speak e-conomic's own API here (docs/ledger-port.md, "Not yet behind the port")."""

from __future__ import annotations

from lb_common.db import utcnow
from lb_connectors.economic.models import (
    BookedInvoice,
    DraftInvoiceCreate,
    InvoiceLine,
    Notes,
    PaymentTermsRef,
    ProductRef,
    References,
)
from lb_invoicing.lines import PlannedLine


def credit_note_body(
    invoice: BookedInvoice, lines: list[PlannedLine], *, reference: str, heading: str
) -> DraftInvoiceCreate:
    """A credit note: the original invoice's customer, recipient and terms, negative lines."""
    if invoice.recipient is None or invoice.layout is None or invoice.payment_terms is None:
        raise ValueError("the booked invoice lacks recipient, layout or payment terms")
    today = utcnow().date()
    return DraftInvoiceCreate(
        date=today,
        # Needed with payment terms of type dueDate, ignored (derived) with every other type.
        due_date=today,
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
        lines=[
            InvoiceLine(
                line_number=i,
                sort_key=i,
                description=line.description,
                product=ProductRef(product_number=line.product_number),
                quantity=line.quantity,
                unit_net_price=line.unit_net_price,
            )
            for i, line in enumerate(lines, start=1)
        ],
    )
