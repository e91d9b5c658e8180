"""Group commit for webhook deliveries.

Requests queue their (already verified and parsed) deliveries here; one writer task takes all
that are waiting and stores them in one transaction, with one query per table to find what is
already known (deliveries, merchant actions, orders). Each request is answered once its batch
committed, so a delivery is never acknowledged before it is durable. Under load this turns a
dozen statements and a commit per webhook into a handful per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.db import Database, utcnow
from lb_common.envelope import Envelope
from lb_common.events import OrderCancelled, OrderRefunded, Refund, ShopStockReported
from lb_common.orders import CanonicalOrder
from lb_connectors.platforms.base import DeliveryInfo, TopicKind
from lb_ingest import transfer
from lb_ingest.orders import apply_version, decide_and_emit
from lb_ingest.recorder import RowRecorder
from lb_ingest.store import Connection, Delivery, Order, RefundRecord

log = logging.getLogger(__name__)


@dataclass
class Arrival:
    """One authenticated delivery, as far as the request could read it."""

    connection: Connection
    platform: str
    info: DeliveryInfo | None  # None: a header needed to identify it is missing
    body: bytes
    kind: TopicKind | None = None
    order: CanonicalOrder | None = None
    problem: str | None = None  # why it cannot be used (missing header, unreadable payload)
    order_key: str | None = None  # when only the order id could be read (or for a refund)
    refunds: list[Refund] = field(default_factory=list)
    stock: ShopStockReported | None = None


@dataclass(frozen=True)
class WebhookAnswer:
    status_code: int
    body: dict[str, Any] = field(default_factory=dict)


def error_answer(status: int, message: str, **extra: Any) -> WebhookAnswer:
    """A 4xx/5xx answer whose body names the problem (`{"error": ...}`)."""
    return WebhookAnswer(status, {"error": message, **extra})


@dataclass
class _Batch:
    session: AsyncSession
    known_deliveries: set[tuple[str, str]]
    known_events: set[str]
    orders: dict[str, Order]
    refunds: dict[tuple[str, str], RefundRecord]
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    recorder: RowRecorder = field(default_factory=RowRecorder)

    def delivery(self, **values: Any) -> dict[str, Any]:
        row = {"received_at": utcnow(), "event_key": None, "shop": None, "error": None,
               "order_key": None, "order_version": None, **values}  # fmt: skip
        self.deliveries.append(row)
        return row


class DeliveryWriter:
    def __init__(self, db: Database, *, max_batch: int = 256) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Arrival, asyncio.Future[WebhookAnswer]]] = asyncio.Queue()

    async def submit(self, arrival: Arrival) -> WebhookAnswer:
        future: asyncio.Future[WebhookAnswer] = asyncio.get_running_loop().create_future()
        await self._queue.put((arrival, future))
        return await future

    async def run(self, stop: asyncio.Event) -> None:
        """Write batches until `stop` is set and the queue is empty."""
        while True:
            first = await self._next(stop)
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)

    async def _next(
        self, stop: asyncio.Event
    ) -> tuple[Arrival, asyncio.Future[WebhookAnswer]] | None:
        if not self._queue.empty():
            return self._queue.get_nowait()
        if stop.is_set():
            return None
        getter = asyncio.ensure_future(self._queue.get())
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if getter in done:
            return getter.result()
        getter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await getter
        return self._queue.get_nowait() if not self._queue.empty() else None

    async def _write(self, batch: list[tuple[Arrival, asyncio.Future[WebhookAnswer]]]) -> None:
        try:
            outcomes = await self._store([a for a, _ in batch])
        except IntegrityError:
            # Another replica stored one of these deliveries in the meantime: one by one, so
            # only that one is answered as a duplicate.
            outcomes = []
            for arrival, _ in batch:
                try:
                    outcomes.extend(await self._store([arrival]))
                except IntegrityError:
                    outcomes.append(WebhookAnswer(200, {"status": "duplicate"}))
        except Exception:
            log.exception("could not store a batch of %d webhook deliveries", len(batch))
            outcomes = [error_answer(503, "the delivery could not be stored; send it again")] * len(
                batch
            )
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _store(self, arrivals: list[Arrival]) -> list[WebhookAnswer]:
        async with self._db.transaction() as session:
            state = await _load_known(session, arrivals)
            outcomes = [_accept(state, arrival) for arrival in arrivals]
            if state.deliveries:
                connection = await session.connection()
                await connection.execute(insert(Delivery), state.deliveries)
            await state.recorder.write(session)
            return outcomes


async def _load_known(session: AsyncSession, arrivals: list[Arrival]) -> _Batch:
    delivery_ids = {a.info.delivery_id for a in arrivals if a.info}
    event_keys = {a.info.dedup_key for a in arrivals if a.info and a.info.event_id}
    order_keys = {a.order.order_key for a in arrivals if a.order} | {
        a.order_key for a in arrivals if a.order_key
    }
    known_deliveries: set[tuple[str, str]] = set()
    if delivery_ids:
        rows = await session.exec(
            select(Delivery.connection, Delivery.delivery_id).where(
                col(Delivery.delivery_id).in_(delivery_ids)
            )
        )
        known_deliveries = {(c, d) for c, d in rows.all()}
    known_events: set[str] = set()
    if event_keys:
        rows_e = await session.exec(
            select(Delivery.event_key).where(col(Delivery.event_key).in_(event_keys))
        )
        known_events = {k for k in rows_e.all() if k}
    orders: dict[str, Order] = {}
    refunds: dict[tuple[str, str], RefundRecord] = {}
    if order_keys:
        found = await session.exec(select(Order).where(col(Order.order_key).in_(order_keys)))
        orders = {o.order_key: o for o in found.all()}
        # Also when no arrival carries a refund: held ones go out when their order transfers.
        seen = await session.exec(
            select(RefundRecord).where(col(RefundRecord.order_key).in_(order_keys))
        )
        refunds = {(r.order_key, r.refund_id): r for r in seen.all()}
    return _Batch(session, known_deliveries, known_events, orders, refunds)


def _accept(state: _Batch, arrival: Arrival) -> WebhookAnswer:
    info = arrival.info
    if info is None:
        state.delivery(
            connection=arrival.connection.name,
            platform=arrival.platform,
            topic="(unknown)",
            delivery_id=f"unidentified-{uuid.uuid4()}",
            body=arrival.body,
            outcome="unusable",
            error=arrival.problem,
        )
        return error_answer(400, arrival.problem or "the delivery cannot be identified")

    if (arrival.connection.name, info.delivery_id) in state.known_deliveries:
        return WebhookAnswer(200, {"status": "duplicate"})
    state.known_deliveries.add((arrival.connection.name, info.delivery_id))
    # One merchant action can reach us as several deliveries (one per subscription).
    same_event = info.event_id is not None and info.dedup_key in state.known_events
    state.known_events.add(info.dedup_key)
    delivery = state.delivery(
        connection=arrival.connection.name,
        platform=info.platform,
        topic=info.topic,
        delivery_id=info.delivery_id,
        event_key=info.dedup_key,
        shop=info.shop,
        body=arrival.body,
        outcome="duplicate" if same_event else "accepted",
    )
    if same_event:
        return WebhookAnswer(200, {"status": "duplicate"})

    if arrival.kind is TopicKind.UNKNOWN:
        delivery.update(outcome="unusable", error=f"unknown topic {info.topic!r}")
        return error_answer(400, f"unknown topic {info.topic!r}")
    if arrival.kind in (TopicKind.ORDER, TopicKind.CANCELLED):
        return _accept_order(state, arrival, info, delivery)
    if arrival.kind is TopicKind.REFUND:
        return _accept_refund(state, arrival, delivery)
    if arrival.kind is TopicKind.INVENTORY_LEVEL and arrival.stock is not None:
        state.recorder.emit(
            Envelope.wrap(
                arrival.stock,
                connection=arrival.connection.name,
                order_key=None,
                correlation_id=info.delivery_id,
            )
        )
        return WebhookAnswer(200, {"status": "accepted", "topic": info.topic})
    delivery.update(outcome="stored", error=f"topic {info.topic} is stored but not acted on yet")
    return WebhookAnswer(200, {"status": "stored", "topic": info.topic})


def _accept_order(
    state: _Batch, arrival: Arrival, info: DeliveryInfo, delivery: dict[str, Any]
) -> WebhookAnswer:
    order = arrival.order
    if order is None:
        delivery.update(outcome="unusable", error=arrival.problem)
        if arrival.order_key is not None:
            delivery["order_key"] = arrival.order_key
            _mark_unusable_order(state, arrival, info, arrival.order_key)
        return error_answer(
            422, f"the order could not be read: {arrival.problem}", order_key=arrival.order_key
        )

    delivery.update(order_key=order.order_key, order_version=order.version)
    stored = state.orders.get(order.order_key)
    if stored is not None and stored.version is not None and order.version < stored.version:
        delivery["outcome"] = "stale"
        state.recorder.timeline(
            order.order_key,
            "webhook.stale",
            f"{info.topic} carried an older version ({order.version.isoformat()}); kept, not applied.",
            details={"delivery_id": info.delivery_id},
        )
        return WebhookAnswer(200, {"status": "stale", "order_key": order.order_key})

    stored = apply_version(state.session, stored, arrival.connection.name, order)
    state.orders[order.order_key] = stored
    state.recorder.timeline(
        order.order_key,
        "webhook.received",
        f"{info.topic} received ({order.financial_status}, {order.currency} {order.total_price}).",
        details={"delivery_id": info.delivery_id, "topic": info.topic},
    )
    if stored.transferred_at is None:
        decide_and_emit(state.recorder, stored, order, arrival.connection)
        if stored.transferred_at is not None:
            _send_held_refunds(state, stored)
    elif order.cancelled_at is not None and not stored.cancellation_sent:
        stored.cancellation_sent = True
        state.recorder.timeline(
            order.order_key,
            "order.cancelled",
            "Cancelled after it was transferred: a credit note for what is not yet credited follows.",
            level="warning",
        )
        state.recorder.emit(
            Envelope.wrap(
                OrderCancelled(order_key=order.order_key, reason=order.note),
                connection=stored.connection,
                order_key=order.order_key,
            )
        )
    for refund in arrival.refunds:
        _record_refund(state, order.order_key, stored, refund)
    return WebhookAnswer(200, {"status": "accepted", "order_key": order.order_key})


def _accept_refund(state: _Batch, arrival: Arrival, delivery: dict[str, Any]) -> WebhookAnswer:
    if arrival.problem is not None or arrival.order_key is None or not arrival.refunds:
        delivery.update(outcome="unusable", error=arrival.problem, order_key=arrival.order_key)
        return error_answer(422, f"the refund could not be read: {arrival.problem}")
    delivery["order_key"] = arrival.order_key
    order = state.orders.get(arrival.order_key)
    for refund in arrival.refunds:
        _record_refund(state, arrival.order_key, order, refund)
    return WebhookAnswer(200, {"status": "accepted", "order_key": arrival.order_key})


def _record_refund(state: _Batch, order_key: str, order: Order | None, refund: Refund) -> None:
    """Keep each refund once (by the platform's id); send it on once its order is transferred."""
    if (order_key, refund.refund_id) in state.refunds:
        return
    record = RefundRecord(
        order_key=order_key, refund_id=refund.refund_id, payload=refund.model_dump(mode="json")
    )
    state.refunds[(order_key, refund.refund_id)] = record
    state.session.add(record)
    amount = f"{refund.currency} {refund.total}"
    if order is not None and order.transferred_at is not None:
        _send_refund(state, order, record)
        state.recorder.timeline(
            order_key, "refund.received", f"Refund {refund.refund_id} of {amount} received."
        )
    else:
        state.recorder.timeline(
            order_key,
            "refund.held",
            f"Refund {refund.refund_id} of {amount} received before the order was transferred; "
            "it follows the invoice.",
        )


def _send_held_refunds(state: _Batch, order: Order) -> None:
    for (key, _), record in state.refunds.items():
        if key == order.order_key and not record.emitted:
            _send_refund(state, order, record)


def _send_refund(state: _Batch, order: Order, record: RefundRecord) -> None:
    record.emitted = True
    state.session.add(record)
    state.recorder.emit(
        Envelope.wrap(
            OrderRefunded(order_key=order.order_key, refund=Refund.model_validate(record.payload)),
            connection=order.connection,
            order_key=order.order_key,
        )
    )


def _mark_unusable_order(
    state: _Batch, arrival: Arrival, info: DeliveryInfo, order_key: str
) -> None:
    order = state.orders.get(order_key)
    if order is None:
        order = Order(
            order_key=order_key,
            connection=arrival.connection.name,
            platform=info.platform,
            shop=info.shop,
            order_id=order_key.rsplit(":", 1)[-1],
            status=transfer.FAILED,
        )
        state.orders[order_key] = order
    if order.transferred_at is None:
        order.status = transfer.FAILED
        order.status_reason = f"The webshop sent an order that could not be read: {arrival.problem}"
    order.updated_at = utcnow()
    state.session.add(order)
    state.recorder.timeline(
        order_key,
        "webhook.unusable",
        f"{info.topic} could not be read: {arrival.problem}. The delivery is kept; replay after "
        "the cause is fixed.",
        level="error",
    )
