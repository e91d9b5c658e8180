"""Replay: send an order on again after the cause of its failure was fixed.

Every step downstream is idempotent by business key (customer links, the order key on the
invoice), so a replay finishes what is missing and never makes a second document.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import Connection as SAConnection
from sqlmodel import Session, col, desc, select

from lb_common.db import Database
from lb_common.orders import CanonicalOrder
from lb_connectors.platforms.base import PayloadError
from lb_connectors.platforms.registry import get_adapter
from lb_ingest import transfer
from lb_ingest.connections import settings_of
from lb_ingest.order_rows import load_order_states, save_order_states
from lb_ingest.orders import apply_version, emit_order_ready
from lb_ingest.recorder import RowRecorder
from lb_ingest.store import Connection, Delivery, Order

REPLAYABLE = frozenset({transfer.FAILED, transfer.TRANSFERRED, transfer.CUSTOMER_RESOLVED})


@dataclass(frozen=True)
class ReplayOutcome:
    status_code: int
    body: dict[str, object]


async def replay_order(db: Database, order_key: str, *, dry_run: bool = False) -> ReplayOutcome:
    return await db.write_sync(functools.partial(_replay, order_key=order_key, dry_run=dry_run))


def _replay(connection: SAConnection, *, order_key: str, dry_run: bool) -> ReplayOutcome:
    with Session(bind=connection) as session:
        order = session.get(Order, order_key)
        if order is None:
            return ReplayOutcome(404, {"error": f"no order {order_key!r}"})
        finishing = order.status == transfer.BOOKED and order.status_reason is not None
        if order.status not in REPLAYABLE and not finishing:
            return ReplayOutcome(
                409,
                {
                    "error": f"order is {order.status}; replay is for orders that failed or are stuck",
                    "status": order.status,
                },
            )
        row = session.get(Connection, order.connection)
        if row is None:
            return ReplayOutcome(
                409, {"error": f"connection {order.connection!r} no longer exists"}
            )
        canonical, problem = _current_version(session, order, row)
        if canonical is None:
            return ReplayOutcome(
                409, {"error": f"the stored webhook still cannot be read: {problem}"}
            )
        plan = {
            "order_key": order_key,
            "action": "send order.ready again",
            "previous_status": order.status,
            "previous_reason": order.status_reason,
        }
        if dry_run:
            return ReplayOutcome(200, {"dry_run": True, **plan})
        state = load_order_states(connection, [order_key], lock=True)[order_key]
        dumped = canonical.model_dump(mode="json")
        if order.canonical is None:
            apply_version(state, canonical, dumped)
        recorder = RowRecorder()
        emit_order_ready(recorder, state, dumped)
        state.update(status_reason=None)
        recorder.timeline(
            order_key, "replay", "Replayed by an operator: sent on to the ledger again."
        )
        save_order_states(connection, [state])
        recorder.write(connection)
        return ReplayOutcome(202, {"replayed": True, **plan})


def _current_version(
    session: Session, order: Order, connection: Connection
) -> tuple[CanonicalOrder | None, str | None]:
    """The stored canonical order, or a fresh parse of its newest delivery (after a fix)."""
    if order.canonical is not None:
        return CanonicalOrder.model_validate(order.canonical), None
    newest = session.exec(
        select(Delivery)
        .where(Delivery.order_key == order.order_key)
        .order_by(desc(col(Delivery.id)))
    ).first()
    if newest is None:
        return None, "no delivery is stored for this order"
    try:
        parsed = get_adapter(order.platform).parse_order(
            newest.body, shop=order.shop, fields=settings_of(connection).customer_fields
        )
    except PayloadError as exc:
        return None, str(exc)
    return parsed, None
