"""Whether a parked message's work was done since it was parked (by a replay): invoicing's
answer to the parking lot's question (lb_common/parking.py), from its own records."""

from __future__ import annotations

from lb_common.db import Database
from lb_common.envelope import Envelope
from lb_common.events import CustomerResolved, OrderRefunded
from lb_invoicing import store
from lb_invoicing.book import load_settings
from lb_invoicing.store import CreditNoteLink, InvoiceLink


async def parked_work_done(envelope: Envelope, *, db: Database) -> str | None:
    """A sentence when the step the parked message asks for is done, else None."""
    if envelope.type == CustomerResolved.TYPE:
        return await _invoice_done(envelope, db)
    if envelope.type == OrderRefunded.TYPE:
        refund = envelope.parse(OrderRefunded)
        reference = f"{refund.order_key}:refund:{refund.refund.refund_id}"
        return await _credit_done(db, reference, f"refund {refund.refund.refund_id}")
    if envelope.type == "order.cancelled" and envelope.order_key is not None:
        return await _credit_done(db, f"{envelope.order_key}:cancel", "the cancellation")
    return None


async def _invoice_done(envelope: Envelope, db: Database) -> str | None:
    order = envelope.parse(CustomerResolved).order
    async with db.session() as session:
        link = await session.get(InvoiceLink, order.order_key)
    if link is None or link.step != store.BOOKED:
        return None
    registration = (await load_settings(db, envelope.connection)).payment_registration
    payment_due = registration is not None and order.financial_status in registration.paid_statuses
    if payment_due and not link.payment_voucher:
        return None  # booked, but the payment step this message also does is still missing
    return f"invoice {link.booked_invoice_number} for this order is booked."


async def _credit_done(db: Database, reference: str, what: str) -> str | None:
    async with db.session() as session:
        link = await session.get(CreditNoteLink, reference)
    if link is None or link.step != store.BOOKED:
        return None
    return f"credit note {link.booked_invoice_number} for {what} is booked."
