"""The refunds ingest has seen, per order (by the platform's refund id), and whether each was sent
on: a refund that arrives before its order is transferred is held, and goes out with the order.

Read and written in bulk over a database connection, inside the caller's transaction (which
holds the orders' locks: order_repository.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, insert, select, update

from lb_common.db import utcnow
from lb_common.envelope import Envelope
from lb_common.events import OrderRefunded, Refund
from lb_ingest.orders import Order
from lb_ingest.recorder import RowRecorder
from lb_ingest.store import RefundRecord

_refunds: Table = RefundRecord.__table__  # type: ignore[attr-defined]
# Built once (see order_repository.py): every webhook batch reads its orders' refunds.
_OF_ORDERS = (
    select(_refunds.c.order_key, _refunds.c.refund_id, _refunds.c.payload, _refunds.c.emitted)
    .where(_refunds.c.order_key.in_(bindparam("keys", expanding=True)))
    .order_by(_refunds.c.received_at)
)
_INSERT = insert(_refunds)
_SENT_ON = (
    update(_refunds)
    .where(and_(_refunds.c.order_key == bindparam("key"), _refunds.c.refund_id == bindparam("id")))
    .values(emitted=True)
)


@dataclass(eq=False)
class SeenRefund:
    order_key: str
    refund_id: str
    payload: dict[str, Any]  # lb_common.events.Refund as JSON
    emitted: bool = False
    stored: bool = False
    emitted_now: bool = False


def load_refunds(
    conn: Connection, order_keys: Collection[str]
) -> dict[tuple[str, str], SeenRefund]:
    """Every refund seen for these orders, oldest first, by (order key, refund id)."""
    if not order_keys:
        return {}
    rows = conn.execute(_OF_ORDERS, {"keys": list(order_keys)})
    return {
        (row.order_key, row.refund_id): SeenRefund(**row._asdict(), stored=True) for row in rows
    }


def save_refunds(conn: Connection, refunds: Iterable[SeenRefund]) -> None:
    """Insert the new refunds and mark the held ones sent on now."""
    refunds = list(refunds)
    new = [
        {"order_key": r.order_key, "refund_id": r.refund_id, "payload": r.payload,
         "emitted": r.emitted, "received_at": utcnow()}
        for r in refunds if not r.stored
    ]  # fmt: skip
    if new:
        conn.execute(_INSERT, new)
    sent_on = [
        {"key": r.order_key, "id": r.refund_id} for r in refunds if r.stored and r.emitted_now
    ]
    if sent_on:
        conn.execute(_SENT_ON, sent_on)
    for refund in refunds:
        refund.stored = True
        refund.emitted_now = False


def send_refund(recorder: RowRecorder, order: Order, refund: SeenRefund) -> None:
    """Send one refund on (its order is transferred)."""
    refund.emitted = refund.emitted_now = True
    recorder.emit(
        Envelope.wrap(
            OrderRefunded(order_key=order.order_key, refund=Refund.model_validate(refund.payload)),
            connection=order.connection,
            order_key=order.order_key,
        )
    )


def send_held_refunds(recorder: RowRecorder, order: Order, refunds: Iterable[SeenRefund]) -> int:
    """Send on the refunds of `order` that were held (it has just been transferred)."""
    held = [r for r in refunds if r.order_key == order.order_key and not r.emitted]
    for refund in held:
        send_refund(recorder, order, refund)
    return len(held)
