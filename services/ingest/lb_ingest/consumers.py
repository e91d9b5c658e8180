"""ingest's message handlers: every service reports an order's steps here, for its timeline."""

from __future__ import annotations

from lb_common import inbox
from lb_common.db import Database, utcnow
from lb_common.envelope import Envelope
from lb_common.events import OrderFailed, OrderProgress
from lb_ingest import transfer
from lb_ingest.store import Order
from lb_ingest.timeline import add_entry

SERVICE = "ingest"

# Steps that move the order's status forward, and which detail carries what we keep of it.
_STATUS_BY_STEP = {
    "customer.resolved": transfer.CUSTOMER_RESOLVED,
    "invoice.booked": transfer.BOOKED,
}


async def handle_progress(envelope: Envelope, *, db: Database) -> None:
    event = envelope.parse(OrderProgress)
    if envelope.order_key is None:
        return
    async with db.transaction() as session:
        add_entry(
            session,
            envelope.order_key,
            event.step,
            event.message,
            service=event.service,
            level="warning" if event.step == "retry" else "info",
            details=event.details,
            at=envelope.occurred_at,
            message_id=envelope.message_id,
        )
        order = await session.get(Order, envelope.order_key)
        if order is not None and event.step in _STATUS_BY_STEP:
            order.status = transfer.advance(order.status, _STATUS_BY_STEP[event.step])
            if order.status != transfer.FAILED:
                order.status_reason = None
            if "customer_number" in event.details:
                order.customer_number = int(event.details["customer_number"])
            if "booked_invoice_number" in event.details:
                order.invoice_number = int(event.details["booked_invoice_number"])
            order.updated_at = utcnow()
            session.add(order)
        inbox.mark_handled(session, SERVICE, envelope.message_id)


async def handle_failed(envelope: Envelope, *, db: Database) -> None:
    event = envelope.parse(OrderFailed)
    if envelope.order_key is None:
        return
    async with db.transaction() as session:
        add_entry(
            session,
            envelope.order_key,
            f"{event.service}.failed",
            event.reason,
            service=event.service,
            level="error",
            details={"detail": event.detail, "kind": event.kind, "step": event.step},
            at=envelope.occurred_at,
            message_id=envelope.message_id,
        )
        order = await session.get(Order, envelope.order_key)
        if order is not None:
            order.status = transfer.advance(order.status, transfer.FAILED)
            if order.status == transfer.FAILED:
                order.status_reason = event.reason
            order.updated_at = utcnow()
            session.add(order)
        inbox.mark_handled(session, SERVICE, envelope.message_id)
