"""Replay: send an order on again after the cause of its failure was fixed.

Every step downstream is idempotent by business key (customer links, the order key on the
invoice, the refund id on a credit note), so a replay finishes what is missing and never makes
a second document. What it sends again follows from the order's open problems
(order_status.replay_plan): order.ready for the order's own flow, the refunds and the
cancellation for a credit that failed. An order transferred for the first time by a replay (its
webhook could not be read before) also sends the refunds held for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import Connection, Table, select

from lb_common.db import Database, utcnow
from lb_common.envelope import Envelope
from lb_common.events import OrderCancelled, OrderRefunded, Refund
from lb_common.orders import CanonicalOrder
from lb_connectors.platforms.base import PayloadError
from lb_connectors.platforms.registry import get_adapter
from lb_ingest import order_status, refund_steps
from lb_ingest.connections import IngestConnectionSettings
from lb_ingest.order_repository import OrderRepository
from lb_ingest.order_status import OrderStatus
from lb_ingest.orders import Order, apply_version, emit_order_ready
from lb_ingest.recorder import RowRecorder
from lb_ingest.refunds import load_refunds, save_refunds, send_held_refunds
from lb_ingest.store import Delivery, ShopConnection

_deliveries: Table = Delivery.__table__  # type: ignore[attr-defined]
_shop_connections: Table = ShopConnection.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ReplayOutcome:
    status_code: int
    body: dict[str, object]


async def replay_order(db: Database, order_key: str, *, dry_run: bool = False) -> ReplayOutcome:
    return await db.write_sync(functools.partial(_replay, order_key=order_key, dry_run=dry_run))


def _replay(conn: Connection, *, order_key: str, dry_run: bool) -> ReplayOutcome:
    orders = OrderRepository(conn)
    order = orders.get(order_key, lock=True)
    if order is None:
        return ReplayOutcome(404, {"error": f"no order {order_key!r}"})
    before = order.status_machine
    plan = order_status.replay_plan(before)
    if plan is None:
        return ReplayOutcome(409, {"error": _nothing_to_replay(order, before)})
    return send_again(
        conn,
        orders,
        order,
        plan,
        dry_run=dry_run,
        step="replay",
        note=lambda action: f"Replayed by an operator: {action}.",
    )


def send_again(
    conn: Connection,
    orders: OrderRepository,
    order: Order,
    plan: order_status.ReplayPlan,
    *,
    dry_run: bool,
    step: str,
    note: Callable[[str], str],
    details: dict[str, object] | None = None,
) -> ReplayOutcome:
    """Send what `plan` names for `order` (read with its lock) again, and say so on its
    timeline as `step` with `note(action)`. The operator's replay and the stalled-order sweeper
    (stalled.py) both come through here."""
    order_key = order.order_key
    before = order.status_machine
    settings = _shop_connection_settings(conn, order.connection)
    if settings is None:
        return ReplayOutcome(409, {"error": f"connection {order.connection!r} no longer exists"})
    canonical, problem = _current_version(conn, order, settings)
    if canonical is None:
        return ReplayOutcome(409, {"error": f"the stored webhook still cannot be read: {problem}"})
    refunds = load_refunds(conn, [order_key])
    sent = [r.payload for r in refunds.values() if r.emitted] if plan.send_credits else []
    # An order credited by amount (Keap) sent its cancellation as its closing refund: in `sent`.
    by_amount = refund_steps.credits_by_amount(order_key, [], refunds.values())
    cancellation = order.cancellation_sent and not by_amount
    actions = []
    if plan.send_order:
        actions.append("send order.ready again")
    if plan.send_credits:
        actions.append(
            f"send its {len(sent)} refund(s)"
            + (" and its cancellation" if cancellation else "")
            + " again (credit notes already booked are not made twice)"
        )
    body: dict[str, object] = {
        "order_key": order_key,
        "action": "; ".join(actions),
        "previous_status": order.status,
        "previous_reason": order.status_reason,
    }
    if plan.left:
        body["not_replayed"] = [_where_to_retry(before.marks[key]) for key in plan.left]
    if dry_run:
        return ReplayOutcome(200, {"dry_run": True, **body})
    dumped = canonical.model_dump(mode="json")
    if order.canonical is None:
        apply_version(order, canonical, dumped)
    recorder = RowRecorder()
    if plan.send_order:
        emit_order_ready(recorder, order, dumped)
        # Refunds that arrived while the order could not be read follow it now.
        send_held_refunds(recorder, order, refunds.values())
    for payload in sent:
        recorder.emit(
            Envelope.wrap(
                OrderRefunded(order_key=order_key, refund=Refund.model_validate(payload)),
                connection=order.connection,
                order_key=order_key,
            )
        )
    if plan.send_credits and cancellation:
        recorder.emit(
            Envelope.wrap(
                OrderCancelled(order_key=order_key, reason=canonical.note),
                connection=order.connection,
                order_key=order_key,
            )
        )
    after = order_status.close_problems(before, plan.keys, utcnow())
    if plan.send_order:
        after = replace(
            after, progress=order_status.advance(after.progress, order_status.TRANSFERRED)
        )
    order.status = after.status
    order.progress = after.progress
    order.needs_attention = after.needs_attention
    order.problems = after.marks_json()
    order.status_reason = after.reason
    order.updated_at = utcnow()
    recorder.timeline(order_key, step, note(str(body["action"])), details=details)
    orders.save([order])
    save_refunds(conn, refunds.values())
    recorder.write(conn)
    return ReplayOutcome(202, {"replayed": True, **body})


def _nothing_to_replay(order: Order, state: OrderStatus) -> str:
    problems = state.open_problems
    if problems:
        places = "; ".join(_where_to_retry(mark) for mark in problems.values())
        return f"a replay cannot send this step again: {places}"
    return f"order is {order.status}; replay is for orders that failed or are stuck"


def _where_to_retry(mark: order_status.Mark) -> str:
    return (
        f"{mark.service} parked message {mark.message_id} ({mark.message_type}): retry it "
        f"with POST /parked/{mark.message_id}/retry on {mark.service}"
    )


def _shop_connection_settings(conn: Connection, name: str) -> IngestConnectionSettings | None:
    row = conn.execute(
        select(_shop_connections.c.settings).where(_shop_connections.c.name == name)
    ).first()
    return None if row is None else IngestConnectionSettings.model_validate(row.settings or {})


def _current_version(
    conn: Connection, order: Order, settings: IngestConnectionSettings
) -> tuple[CanonicalOrder | None, str | None]:
    """The stored canonical order, or a fresh parse of its newest delivery (after a fix)."""
    if order.canonical is not None:
        return CanonicalOrder.model_validate(order.canonical), None
    newest = conn.execute(
        select(_deliveries.c.body)
        .where(_deliveries.c.order_key == order.order_key)
        .order_by(_deliveries.c.id.desc())
        .limit(1)
    ).first()
    if newest is None:
        return None, "no delivery is stored for this order"
    try:
        parsed = get_adapter(order.platform).parse_order(
            newest.body, shop=order.shop, fields=settings.customer_fields
        )
    except PayloadError as exc:
        return None, str(exc)
    return parsed, None
