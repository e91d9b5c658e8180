"""ingest's message handlers: every service reports an order's steps here, for its timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common import inbox
from lb_common.db import Database, utcnow
from lb_common.envelope import Envelope
from lb_common.events import OrderFailed, OrderProgress
from lb_ingest import transfer
from lb_ingest.store import Order, TimelineEntry
from lb_ingest.timeline import add_entry

SERVICE = "ingest"

# Steps that move the order's status forward, and which detail carries what we keep of it.
_STATUS_BY_STEP = {
    "customer.resolved": transfer.CUSTOMER_RESOLVED,
    "invoice.booked": transfer.BOOKED,
    "payment.registered": transfer.BOOKED,
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
            # Events arrive out of order: only a step taken after the last error clears it.
            if order.status != transfer.FAILED and not await _error_since(
                session, envelope.order_key, envelope.occurred_at
            ):
                order.status_reason = None
            if "customer_number" in event.details:
                order.customer_number = int(event.details["customer_number"])
            if "booked_invoice_number" in event.details:
                order.invoice_number = int(event.details["booked_invoice_number"])
            order.updated_at = utcnow()
            session.add(order)
        inbox.mark_handled(session, SERVICE, envelope.message_id)


async def _error_since(session: AsyncSession, order_key: str, moment: datetime) -> bool:
    latest = await session.exec(
        select(func.max(TimelineEntry.at)).where(
            TimelineEntry.order_key == order_key, TimelineEntry.level == "error"
        )
    )
    last_error = latest.one()
    return last_error is not None and last_error > moment


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
            # A step after booking (the payment) can fail too: the order stays booked, the
            # reason shows, and replay finishes the step.
            order.status_reason = event.reason
            order.updated_at = utcnow()
            session.add(order)
        inbox.mark_handled(session, SERVICE, envelope.message_id)
