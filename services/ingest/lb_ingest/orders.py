"""Applying a new order version and emitting `order.ready`: shared by webhooks and replay."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.db import utcnow
from lb_common.envelope import Envelope
from lb_common.events import OrderReady
from lb_common.orders import CanonicalOrder
from lb_ingest import transfer
from lb_ingest.connections import settings_of
from lb_ingest.recorder import Recorder
from lb_ingest.store import Connection, Order


def apply_version(
    session: AsyncSession, stored: Order | None, connection: str, order: CanonicalOrder
) -> Order:
    """Make `order` the stored newest version."""
    if stored is None:
        stored = Order(
            order_key=order.order_key,
            connection=connection,
            platform=order.platform,
            shop=order.shop,
            order_id=order.order_id,
            status=transfer.RECEIVED,
        )
    stored.order_name = order.order_name
    stored.email = order.buyer.email if order.buyer else None
    stored.currency = order.currency
    stored.total = str(order.total_price)
    stored.version = order.version
    stored.canonical = order.model_dump(mode="json")
    stored.updated_at = utcnow()
    session.add(stored)
    return stored


def decide_and_emit(
    recorder: Recorder, stored: Order, order: CanonicalOrder, connection: Connection
) -> None:
    """Apply the connection's trigger; emit `order.ready` (once) through the outbox when met."""
    decision = transfer.decide(order, settings_of(connection).transfer)
    if stored.status != decision.status or decision.transfer:
        recorder.timeline(order.order_key, f"order.{decision.status}", decision.reason)
    stored.status = decision.status
    stored.status_reason = None if decision.transfer else decision.reason
    if decision.transfer:
        emit_order_ready(recorder, stored, order)


def emit_order_ready(recorder: Recorder, stored: Order, order: CanonicalOrder) -> None:
    stored.transferred_at = utcnow()
    stored.status = transfer.TRANSFERRED
    recorder.emit(
        Envelope.wrap(
            OrderReady(order=order), connection=stored.connection, order_key=order.order_key
        ),
    )
