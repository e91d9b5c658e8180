"""What one group commit reads before deciding (known deliveries, orders, refunds) and writes after.

One query per table finds what is already stored for the whole batch; decisions then run on
plain objects (acceptance.py), and their rows go back with one statement per table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, select, update

from lb_common.db import utcnow
from lb_ingest.arrival import Arrival
from lb_ingest.order_rows import load_order_states, save_order_states
from lb_ingest.orders import OrderState
from lb_ingest.recorder import RowRecorder
from lb_ingest.store import Delivery, RefundRecord

_deliveries = Delivery.__table__  # type: ignore[attr-defined]
#: What applying a `received` delivery decides about it.
_APPLIED = ("outcome", "error", "order_key", "order_version")
#: Commit info flag (see Database.on_commit): deliveries wait to be applied.
DELIVERIES_RECEIVED = "deliveries_received"
_refunds = RefundRecord.__table__  # type: ignore[attr-defined]


@dataclass(eq=False)
class RefundState:
    """A refund seen for an order (by the platform's id), and whether it was sent on."""

    order_key: str
    refund_id: str
    payload: dict[str, Any]
    emitted: bool = False
    stored: bool = False
    emitted_now: bool = False


@dataclass
class BatchState:
    known_deliveries: set[tuple[str, str]]
    known_events: set[str]
    orders: dict[str, OrderState]
    refunds: dict[tuple[str, str], RefundState]
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    #: Rows of deliveries stored earlier as `received` that this batch applies (with their id).
    applied: list[dict[str, Any]] = field(default_factory=list)
    recorder: RowRecorder = field(default_factory=RowRecorder)

    def delivery(self, **values: Any) -> dict[str, Any]:
        """A `deliveries` row to insert; the caller may still change it (outcome, order key)."""
        row = {"received_at": utcnow(), "event_key": None, "shop": None, "error": None,
               "order_key": None, "order_version": None, **values}  # fmt: skip
        self.deliveries.append(row)
        return row


def load_batch_state(
    connection: Connection, arrivals: list[Arrival], *, admit: bool = True, apply: bool = True
) -> BatchState:
    """What admitting (known deliveries and merchant actions) and applying (the orders and
    their refunds) these arrivals needs to know."""
    delivery_ids = {a.info.delivery_id for a in arrivals if a.info} if admit else set()
    connections = {a.connection.name for a in arrivals}
    event_keys = (
        {a.info.dedup_key for a in arrivals if a.info and a.info.event_id} if admit else set()
    )
    order_keys = (
        {a.order.order_key for a in arrivals if a.order}
        | {a.order_key for a in arrivals if a.order_key}
        if apply
        else set()
    )
    known_deliveries: set[tuple[str, str]] = set()
    if delivery_ids:
        # Both columns of the unique (connection, delivery_id) index, so it is used: by the
        # delivery id alone, every stored delivery would be read.
        rows = connection.execute(
            select(_deliveries.c.connection, _deliveries.c.delivery_id).where(
                _deliveries.c.connection.in_(connections),
                _deliveries.c.delivery_id.in_(delivery_ids),
            )
        )
        known_deliveries = {(c, d) for c, d in rows}
    known_events: set[str] = set()
    if event_keys:
        found = connection.execute(
            select(_deliveries.c.event_key).where(_deliveries.c.event_key.in_(event_keys))
        )
        known_events = {k for (k,) in found if k}
    orders = load_order_states(connection, order_keys, lock=True)
    refunds: dict[tuple[str, str], RefundState] = {}
    if order_keys:
        # Also when no arrival carries a refund: held ones go out when their order transfers.
        seen = connection.execute(
            select(_refunds.c.order_key, _refunds.c.refund_id, _refunds.c.payload,
                   _refunds.c.emitted).where(_refunds.c.order_key.in_(order_keys))
        )  # fmt: skip
        refunds = {
            (row.order_key, row.refund_id): RefundState(**row._asdict(), stored=True)
            for row in seen
        }
    return BatchState(known_deliveries, known_events, orders, refunds)


def write_batch(connection: Connection, state: BatchState) -> None:
    if state.deliveries:
        connection.execute(insert(_deliveries), state.deliveries)
    if state.applied:
        connection.execute(
            update(_deliveries).where(_deliveries.c.id == bindparam("row_id")),
            [{"row_id": row["id"], **{k: row[k] for k in _APPLIED}} for row in state.applied],
        )
    if any(row["outcome"] == "received" for row in state.deliveries):
        connection.info[DELIVERIES_RECEIVED] = True  # wakes this process's processor, if any
    save_order_states(connection, state.orders.values())
    new_refunds = [
        {"order_key": r.order_key, "refund_id": r.refund_id, "payload": r.payload,
         "emitted": r.emitted, "received_at": utcnow()}
        for r in state.refunds.values() if not r.stored
    ]  # fmt: skip
    if new_refunds:
        connection.execute(insert(_refunds), new_refunds)
    sent_on = [
        {"key": r.order_key, "id": r.refund_id}
        for r in state.refunds.values()
        if r.stored and r.emitted_now
    ]
    if sent_on:
        connection.execute(
            update(_refunds)
            .where(and_(_refunds.c.order_key == bindparam("key"),
                        _refunds.c.refund_id == bindparam("id")))
            .values(emitted=True),
            sent_on,
        )  # fmt: skip
    state.recorder.write(connection)
