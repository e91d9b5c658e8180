"""What a delivery means, given what is already stored: duplicate, stale, a new order version,
a refund, a stock report. Decisions only, on the batch's plain state; fast_path/batch.py does the
I/O."""

from __future__ import annotations

import uuid
from typing import Any

from lb_common.db import utcnow
from lb_common.envelope import Envelope
from lb_common.events import OrderCancelled, Refund
from lb_connectors.platforms.base import DeliveryInfo, TopicKind
from lb_ingest import order_status, refund_steps
from lb_ingest.arrival import Arrival, WebhookAnswer, error_answer
from lb_ingest.fast_path.batch import BatchState
from lb_ingest.held_units import emit_held_units
from lb_ingest.orders import Order, apply_version, decide_and_emit, new_order
from lb_ingest.refunds import SeenRefund, send_held_refunds, send_refund


def accept(state: BatchState, arrival: Arrival) -> WebhookAnswer:
    """Admit a delivery and apply it at once (processes that own the whole path)."""
    delivery, answer = admit(state, arrival)
    if delivery is None or answer is not None:
        return answer or _DUPLICATE
    return apply(state, arrival, delivery)


def admit_only(state: BatchState, arrival: Arrival) -> WebhookAnswer:
    """Admit a delivery and leave it `received` for a worker to apply (role `web`). The answer
    says what can be known before the order's stored state is seen (not yet `stale`)."""
    delivery, answer = admit(state, arrival)
    if delivery is None or answer is not None:
        return answer or _DUPLICATE
    return provisional_answer(arrival)


_DUPLICATE = WebhookAnswer(200, {"status": "duplicate"})


def admit(
    state: BatchState, arrival: Arrival
) -> tuple[dict[str, Any] | None, WebhookAnswer | None]:
    """Keep the delivery (unless it is a redelivery) and decide whether it goes on: returns its
    row (`received`, or final when it stops here) and, when it stops here, the answer."""
    info = arrival.info
    if info is None:
        row = state.delivery(
            connection=arrival.shop_connection.name,
            platform=arrival.platform,
            topic="(unknown)",
            delivery_id=f"unidentified-{uuid.uuid4()}",
            body=arrival.body,
            outcome="unusable",
            error=arrival.problem,
        )
        return row, error_answer(400, arrival.problem or "the delivery cannot be identified")

    if (arrival.shop_connection.name, info.delivery_id) in state.known_deliveries:
        return None, None
    state.known_deliveries.add((arrival.shop_connection.name, info.delivery_id))
    # One merchant action can reach us as several deliveries (one per subscription). The
    # unique index on `event_key` settles a race with another process (writer.py).
    event_key = info.dedup_key if info.event_id is not None else None
    same_event = event_key is not None and event_key in state.known_events
    if event_key is not None:
        state.known_events.add(event_key)
    row = state.delivery(
        connection=arrival.shop_connection.name,
        platform=info.platform,
        topic=info.topic,
        delivery_id=info.delivery_id,
        event_key=event_key,
        shop=info.shop,
        body=arrival.body,
        outcome="duplicate" if same_event else "received",
        order_key=arrival.order.order_key if arrival.order else arrival.order_key,
        order_version=arrival.order.version if arrival.order else None,
        api_version=info.api_version,
    )
    return row, _DUPLICATE if same_event else None


def provisional_answer(arrival: Arrival) -> WebhookAnswer:
    """The answer to a delivery, as far as it can be known without the stored order."""
    info = arrival.info
    assert info is not None  # unidentified deliveries stop in admit()
    if arrival.kind is TopicKind.UNKNOWN:
        return error_answer(400, f"unknown topic {info.topic!r}")
    if arrival.kind in (TopicKind.ORDER, TopicKind.CANCELLED):
        if arrival.problem is not None:
            return error_answer(
                422, f"the order could not be read: {arrival.problem}", order_key=arrival.order_key
            )
        order_key = arrival.order.order_key if arrival.order else arrival.order_key
        return WebhookAnswer(200, {"status": "accepted", "order_key": order_key})
    if arrival.kind is TopicKind.REFUND:
        if arrival.problem is not None or arrival.order_key is None or not arrival.refunds:
            return error_answer(422, f"the refund could not be read: {arrival.problem}")
        return WebhookAnswer(200, {"status": "accepted", "order_key": arrival.order_key})
    if arrival.kind is TopicKind.INVENTORY_LEVEL and arrival.stock is not None:
        return WebhookAnswer(200, {"status": "accepted", "topic": info.topic})
    return WebhookAnswer(200, {"status": "stored", "topic": info.topic})


def apply(state: BatchState, arrival: Arrival, delivery: dict[str, Any]) -> WebhookAnswer:
    """What an admitted delivery does to its order (or stock); sets the delivery's outcome."""
    info = arrival.info
    assert info is not None
    delivery["outcome"] = "accepted"
    if arrival.kind is TopicKind.UNKNOWN:
        delivery.update(outcome="unusable", error=f"unknown topic {info.topic!r}")
    elif arrival.kind in (TopicKind.ORDER, TopicKind.CANCELLED):
        if _apply_order(state, arrival, info, delivery) == "stale":
            order_key = delivery["order_key"]
            return WebhookAnswer(200, {"status": "stale", "order_key": order_key})
    elif arrival.kind is TopicKind.REFUND:
        _apply_refund(state, arrival, delivery)
    elif arrival.kind is TopicKind.INVENTORY_LEVEL and arrival.stock is not None:
        state.recorder.emit(
            Envelope.wrap(
                arrival.stock,
                connection=arrival.shop_connection.name,
                order_key=None,
                correlation_id=info.delivery_id,
            )
        )
    else:
        delivery.update(
            outcome="stored", error=f"topic {info.topic} is stored but not acted on yet"
        )
    return provisional_answer(arrival)


def _apply_order(
    state: BatchState, arrival: Arrival, info: DeliveryInfo, delivery: dict[str, Any]
) -> str:
    order = arrival.order
    if order is None:
        delivery.update(outcome="unusable", error=arrival.problem)
        if arrival.order_key is not None:
            delivery["order_key"] = arrival.order_key
            _mark_unusable_order(state, arrival, info, arrival.order_key)
        return "unusable"

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
        return "stale"

    if stored is None:
        stored = state.orders[order.order_key] = new_order(arrival.shop_connection.name, order)
    # Dumped once: the same values go into the order's row and into its order.ready message.
    canonical = order.model_dump(mode="json")
    apply_version(stored, order, canonical)
    state.recorder.timeline(
        order.order_key,
        "webhook.received",
        f"{info.topic} received ({order.financial_status}, {order.currency} {order.total_price}).",
        details={"delivery_id": info.delivery_id, "topic": info.topic},
    )
    if stored.transferred_at is None:
        decide_and_emit(
            state.recorder, stored, order, arrival.shop_connection.settings.transfer, canonical
        )
        if stored.transferred_at is not None:
            send_held_refunds(state.recorder, stored, state.refunds.values())
    refunds = list(arrival.refunds)
    if (
        stored.transferred_at is not None
        and order.cancelled_at is not None
        and not stored.cancellation_sent
    ):
        stored.cancellation_sent = True
        if refund_steps.credits_by_amount(order.order_key, refunds, state.refunds.values()):
            # Its refunds carry no lines (Keap): the rest goes as one more refund by amount.
            refunds.append(refund_steps.closing(order, order.cancelled_at))
            state.recorder.timeline(
                order.order_key,
                "order.cancelled",
                "Deleted after it was transferred: the rest of its total not yet refunded is "
                "credited as a refund (its refunds were amounts, without lines).",
                level="warning",
            )
        else:
            state.recorder.timeline(
                order.order_key,
                "order.cancelled",
                "Cancelled after it was transferred: a credit note for what is not yet credited "
                "follows.",
                level="warning",
            )
            state.recorder.emit(
                Envelope.wrap(
                    OrderCancelled(order_key=order.order_key, reason=order.note),
                    connection=stored.connection,
                    order_key=order.order_key,
                )
            )
    emit_held_units(state.recorder, stored, order)
    for refund in refunds:
        _record_refund(state, order.order_key, stored, refund)
    return "accepted"


def _apply_refund(state: BatchState, arrival: Arrival, delivery: dict[str, Any]) -> None:
    if arrival.problem is not None or arrival.order_key is None or not arrival.refunds:
        delivery.update(outcome="unusable", error=arrival.problem, order_key=arrival.order_key)
        return
    delivery["order_key"] = arrival.order_key
    order = state.orders.get(arrival.order_key)
    for refund in arrival.refunds:
        _record_refund(state, arrival.order_key, order, refund)


def _record_refund(state: BatchState, order_key: str, order: Order | None, refund: Refund) -> None:
    """Keep each refund once (by the platform's id); send it on once its order is transferred.
    A figure refunded to date is kept as the step since the last one (refund_steps.py)."""
    if (order_key, refund.refund_id) in state.refunds:
        return
    found = refund_steps.step(refund, order_key, state.refunds.values())
    if found is None:
        return
    refund = found
    record = SeenRefund(order_key, refund.refund_id, refund.model_dump(mode="json"))
    state.refunds[(order_key, refund.refund_id)] = record
    amount = f"{refund.currency} {refund.total}"
    if order is not None and order.transferred_at is not None:
        send_refund(state.recorder, order, record)
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


def _mark_unusable_order(
    state: BatchState, arrival: Arrival, info: DeliveryInfo, order_key: str
) -> None:
    order = state.orders.get(order_key)
    if order is None:
        order = state.orders[order_key] = Order(
            order_key=order_key,
            connection=arrival.shop_connection.name,
            platform=info.platform,
            shop=info.shop,
            order_id=order_key.rsplit(":", 1)[-1],
            status=order_status.FAILED,
        )
    if order.transferred_at is None:
        # Not sent on yet, so no service has reported on it: this is its only problem.
        reason = f"The webshop sent an order that could not be read: {arrival.problem}"
        failed = order_status.after_failure(
            order_status.OrderStatus(order.progress),
            service="ingest",
            message_type=f"webhook {info.topic}",
            message_id=None,
            reason=reason,
            at=utcnow(),
        )
        order.status = failed.status
        order.status_reason = reason
        order.needs_attention = True
        order.problems = failed.marks_json()
    order.updated_at = utcnow()
    state.recorder.timeline(
        order_key,
        "webhook.unusable",
        f"{info.topic} could not be read: {arrival.problem}. The delivery is kept; replay after "
        "the cause is fixed.",
        level="error",
    )
