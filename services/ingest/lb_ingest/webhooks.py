"""Receiving one webhook delivery: authenticate, store the raw bytes, then work out what it means.

Everything here is local (one database transaction, no broker, no ledger), so the platform gets
its answer in milliseconds; messages leave through the outbox after the commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.db import Database, utcnow
from lb_common.envelope import Envelope
from lb_common.events import OrderReady
from lb_common.orders import CanonicalOrder, make_order_key
from lb_common.outbox import add_to_outbox
from lb_connectors.platforms.base import (
    DeliveryInfo,
    MissingHeaderError,
    PayloadError,
    PlatformAdapter,
    TopicKind,
)
from lb_connectors.platforms.registry import get_adapter
from lb_ingest import transfer
from lb_ingest.connections import settings_of
from lb_ingest.store import Connection, Delivery, Order
from lb_ingest.timeline import add_entry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookAnswer:
    status_code: int
    body: dict[str, Any] = field(default_factory=dict)


def _error(status: int, message: str, **extra: Any) -> WebhookAnswer:
    return WebhookAnswer(status, {"error": message, **extra})


async def receive_webhook(
    db: Database,
    *,
    platform: str,
    connection_name: str,
    headers: Mapping[str, str],
    body: bytes,
) -> WebhookAnswer:
    try:
        adapter = get_adapter(platform)
    except LookupError:
        return _error(404, f"unknown platform {platform!r}")
    async with db.session() as session:
        connection = await session.get(Connection, connection_name)
    if connection is None or connection.platform != platform:
        return _error(404, f"no {platform} connection named {connection_name!r}")
    if not connection.enabled:
        return _error(403, f"connection {connection_name!r} is disabled")
    if adapter.is_ping(headers, body):
        return WebhookAnswer(200, {"status": "ping received"})
    if not adapter.verify(headers, body, connection.secrets):
        # Forged or misconfigured: nothing is stored. The log names no secret and no body.
        log.warning(
            "webhook signature did not verify",
            extra={"data": {"connection": connection_name, "platform": platform}},
        )
        return _error(401, "signature missing or invalid")

    try:
        info = adapter.delivery(headers)
    except MissingHeaderError as exc:
        await _store_unusable(db, connection, platform, body, str(exc))
        return _error(400, str(exc))

    try:
        async with db.transaction() as session:
            return await _accept(session, adapter, connection, info, body)
    except IntegrityError:
        # The same delivery arrived twice at the same moment and the other copy won.
        return WebhookAnswer(200, {"status": "duplicate"})


async def _accept(
    session: AsyncSession,
    adapter: PlatformAdapter,
    connection: Connection,
    info: DeliveryInfo,
    body: bytes,
) -> WebhookAnswer:
    existing = (
        await session.exec(
            select(Delivery.id).where(
                Delivery.connection == connection.name, Delivery.delivery_id == info.delivery_id
            )
        )
    ).first()
    if existing is not None:
        return WebhookAnswer(200, {"status": "duplicate"})

    # One merchant action can reach us as several deliveries (one per subscription).
    same_event = None
    if info.event_id is not None:
        same_event = (
            await session.exec(select(Delivery.id).where(Delivery.event_key == info.dedup_key))
        ).first()
    delivery = Delivery(
        connection=connection.name,
        platform=info.platform,
        topic=info.topic,
        delivery_id=info.delivery_id,
        event_key=info.dedup_key,
        shop=info.shop,
        body=body,
        outcome="duplicate" if same_event is not None else "accepted",
    )
    session.add(delivery)
    if same_event is not None:
        return WebhookAnswer(200, {"status": "duplicate"})

    kind = adapter.classify(info.topic)
    if kind is TopicKind.UNKNOWN:
        delivery.outcome = "unusable"
        delivery.error = f"unknown topic {info.topic!r}"
        return _error(400, f"unknown topic {info.topic!r}")
    if kind in (TopicKind.ORDER, TopicKind.CANCELLED):
        return await _accept_order(session, adapter, connection, info, delivery, body)

    # Refunds and stock levels are stored and shown; acting on them comes with credit notes
    # and stock sync (see docs/roadmap.md).
    delivery.outcome = "stored"
    delivery.error = f"topic {info.topic} is stored but not acted on yet"
    return WebhookAnswer(200, {"status": "stored", "topic": info.topic})


async def _accept_order(
    session: AsyncSession,
    adapter: PlatformAdapter,
    connection: Connection,
    info: DeliveryInfo,
    delivery: Delivery,
    body: bytes,
) -> WebhookAnswer:
    settings = settings_of(connection)
    try:
        order = adapter.parse_order(body, shop=info.shop, fields=settings.customer_fields)
    except PayloadError as exc:
        delivery.outcome = "unusable"
        delivery.error = str(exc)
        order_key = _order_key_if_readable(adapter, info, body)
        if order_key is not None:
            delivery.order_key = order_key
            await _mark_unusable_order(session, connection, info, order_key, str(exc))
        return _error(422, f"the order could not be read: {exc}", order_key=order_key)

    delivery.order_key = order.order_key
    stored = await session.get(Order, order.order_key)
    if stored is not None and stored.version is not None and order.version < stored.version:
        delivery.outcome = "stale"
        add_entry(
            session,
            order.order_key,
            "webhook.stale",
            f"{info.topic} carried an older version ({order.version.isoformat()}); kept, not applied.",
            details={"delivery_id": info.delivery_id},
        )
        return WebhookAnswer(200, {"status": "stale", "order_key": order.order_key})

    stored = apply_version(session, stored, connection.name, order)
    add_entry(
        session,
        order.order_key,
        "webhook.received",
        f"{info.topic} received ({order.financial_status}, {order.currency} {order.total_price}).",
        details={"delivery_id": info.delivery_id, "topic": info.topic},
    )
    if stored.transferred_at is None:
        decide_and_emit(session, stored, order, connection)
    elif order.cancelled_at is not None:
        add_entry(
            session,
            order.order_key,
            "order.cancelled",
            "Cancelled after transfer: the booked invoice stands until credit notes are made.",
            level="warning",
        )
    return WebhookAnswer(200, {"status": "accepted", "order_key": order.order_key})


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
    session: AsyncSession, stored: Order, order: CanonicalOrder, connection: Connection
) -> None:
    """Apply the connection's trigger; emit `order.ready` (once) through the outbox when met."""
    decision = transfer.decide(order, settings_of(connection).transfer)
    if stored.status != decision.status or decision.transfer:
        add_entry(session, order.order_key, f"order.{decision.status}", decision.reason)
    stored.status = decision.status
    stored.status_reason = None if decision.transfer else decision.reason
    if decision.transfer:
        emit_order_ready(session, stored, order)


def emit_order_ready(session: AsyncSession, stored: Order, order: CanonicalOrder) -> None:
    stored.transferred_at = utcnow()
    stored.status = transfer.TRANSFERRED
    add_to_outbox(
        session,
        Envelope.wrap(
            OrderReady(order=order), connection=stored.connection, order_key=order.order_key
        ),
    )


def _order_key_if_readable(adapter: PlatformAdapter, info: DeliveryInfo, body: bytes) -> str | None:
    try:
        return make_order_key(info.platform, info.shop, adapter.parse_order_id(body))
    except PayloadError:
        return None


async def _mark_unusable_order(
    session: AsyncSession, connection: Connection, info: DeliveryInfo, order_key: str, error: str
) -> None:
    order = await session.get(Order, order_key)
    if order is None:
        order = Order(
            order_key=order_key,
            connection=connection.name,
            platform=info.platform,
            shop=info.shop,
            order_id=order_key.rsplit(":", 1)[-1],
            status=transfer.FAILED,
        )
    if order.transferred_at is None:
        order.status = transfer.FAILED
        order.status_reason = f"The webshop sent an order that could not be read: {error}"
    order.updated_at = utcnow()
    session.add(order)
    add_entry(
        session,
        order_key,
        "webhook.unusable",
        f"{info.topic} could not be read: {error}. The delivery is kept; replay after the cause is fixed.",
        level="error",
    )


async def _store_unusable(
    db: Database, connection: Connection, platform: str, body: bytes, error: str
) -> None:
    async with db.transaction() as session:
        session.add(
            Delivery(
                connection=connection.name,
                platform=platform,
                topic="(unknown)",
                delivery_id=f"unidentified-{uuid.uuid4()}",
                body=body,
                outcome="unusable",
                error=error,
            )
        )
