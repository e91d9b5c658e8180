"""What one group commit reads before deciding (known deliveries, orders, refunds) and writes after.

One query per table finds what is already stored for the whole batch; decisions then run on
plain objects (acceptance.py), and their rows go back with one statement per table
(executemany): orders through the order repository, refunds through refunds.py, deliveries,
timeline and outbox as Core rows here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from lb_common.db import utcnow
from lb_ingest.arrival import Arrival
from lb_ingest.order_repository import OrderRepository
from lb_ingest.orders import Order
from lb_ingest.recorder import RowRecorder
from lb_ingest.refunds import SeenRefund, load_refunds, save_refunds
from lb_ingest.store import Delivery

_deliveries: Table = Delivery.__table__  # type: ignore[attr-defined]
#: What applying a `received` delivery decides about it.
_APPLIED = ("outcome", "error", "order_key", "order_version")
#: Commit info flag (see Database.on_commit): deliveries wait to be applied.
DELIVERIES_RECEIVED = "deliveries_received"

# Built once, like the order repository's statements (`expanding`: the list given each time).
# Both columns of the unique (connection, delivery_id) index, so it is used: by the delivery id
# alone, every stored delivery would be read.
_KNOWN_DELIVERIES = select(_deliveries.c.connection, _deliveries.c.delivery_id).where(
    _deliveries.c.connection.in_(bindparam("connections", expanding=True)),
    _deliveries.c.delivery_id.in_(bindparam("ids", expanding=True)),
)
# The condition of the unique index ux_deliveries_merchant_action, so it is used.
_KNOWN_EVENTS = select(_deliveries.c.event_key).where(
    _deliveries.c.event_key.in_(bindparam("keys", expanding=True)),
    _deliveries.c.outcome != "duplicate",
)
_INSERT = insert(_deliveries)
_UPDATE_APPLIED = update(_deliveries).where(_deliveries.c.id == bindparam("row_id"))


@dataclass
class BatchState:
    known_deliveries: set[tuple[str, str]]
    known_events: set[str]
    orders: dict[str, Order]
    refunds: dict[tuple[str, str], SeenRefund]
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    #: Rows of deliveries stored earlier as `received` that this batch applies (with their id).
    applied: list[dict[str, Any]] = field(default_factory=list)
    recorder: RowRecorder = field(default_factory=RowRecorder)

    def delivery(self, **values: Any) -> dict[str, Any]:
        """A `deliveries` row to insert; the caller may still change it (outcome, order key)."""
        row = {"received_at": utcnow(), "event_key": None, "shop": None, "error": None,
               "order_key": None, "order_version": None, "api_version": None,
               **values}  # fmt: skip
        self.deliveries.append(row)
        return row


def load_batch_state(
    conn: Connection, arrivals: list[Arrival], *, admit: bool = True, apply: bool = True
) -> BatchState:
    """What admitting (known deliveries and merchant actions) and applying (the orders and
    their refunds) these arrivals needs to know. Applying holds the orders' locks until
    commit (order_repository.py), taken before their refunds are read."""
    delivery_ids = {a.info.delivery_id for a in arrivals if a.info} if admit else set()
    shop_connections = {a.shop_connection.name for a in arrivals}
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
        rows = conn.execute(
            _KNOWN_DELIVERIES,
            {"connections": list(shop_connections), "ids": list(delivery_ids)},
        )
        known_deliveries = {(c, d) for c, d in rows}
    known_events: set[str] = set()
    if event_keys:
        found = conn.execute(_KNOWN_EVENTS, {"keys": list(event_keys)})
        known_events = {k for (k,) in found if k}
    orders = OrderRepository(conn).get_many(order_keys, lock=True)
    # Also when no arrival carries a refund: held ones go out when their order transfers.
    refunds = load_refunds(conn, order_keys)
    return BatchState(known_deliveries, known_events, orders, refunds)


def write_batch(conn: Connection, state: BatchState) -> None:
    if state.deliveries:
        conn.execute(_INSERT, state.deliveries)
    if state.applied:
        conn.execute(
            _UPDATE_APPLIED,
            [{"row_id": row["id"], **{k: row[k] for k in _APPLIED}} for row in state.applied],
        )
    if any(row["outcome"] == "received" for row in state.deliveries):
        conn.info[DELIVERIES_RECEIVED] = True  # wakes this process's processor, if any
    OrderRepository(conn).save(state.orders.values())
    save_refunds(conn, state.refunds.values())
    state.recorder.write(conn)
