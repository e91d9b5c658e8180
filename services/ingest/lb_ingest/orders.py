"""An order's state as the webhook writer and replay change it, and the rules they apply.

`OrderState` is a plain object (not the ORM row): the writer handles hundreds of orders per
second, and only the columns a change touched are written back (see order_rows.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lb_common.db import utcnow
from lb_common.envelope import Envelope
from lb_common.events import OrderReady
from lb_common.orders import CanonicalOrder
from lb_ingest import order_status, transfer
from lb_ingest.recorder import RowRecorder


@dataclass(eq=False)
class OrderState:
    """The columns of an `orders` row that ingest decides on, and which of them changed."""

    order_key: str
    connection: str
    platform: str
    shop: str
    order_id: str
    status: str = order_status.RECEIVED
    status_reason: str | None = None
    progress: str = order_status.RECEIVED
    needs_attention: bool = False
    version: datetime | None = None
    transferred_at: datetime | None = None
    cancellation_sent: bool = False
    stored: bool = False  # False: the row is inserted, not updated
    changes: dict[str, Any] = field(default_factory=dict, repr=False)

    def update(self, **values: Any) -> None:
        """Set columns; the ones decided on here are also kept as attributes."""
        for name, value in values.items():
            if name in _DECIDED_ON:
                setattr(self, name, value)
        self.changes.update(values)


_DECIDED_ON = frozenset(
    {
        "status",
        "status_reason",
        "progress",
        "needs_attention",
        "version",
        "transferred_at",
        "cancellation_sent",
    }
)


def new_order_state(connection: str, order: CanonicalOrder) -> OrderState:
    return OrderState(
        order_key=order.order_key,
        connection=connection,
        platform=order.platform,
        shop=order.shop,
        order_id=order.order_id,
    )


def apply_version(stored: OrderState, order: CanonicalOrder, canonical: dict[str, Any]) -> None:
    """Make `order` (dumped as `canonical`) the stored newest version."""
    stored.update(
        order_name=order.order_name,
        email=order.buyer.email if order.buyer else None,
        currency=order.currency,
        total=str(order.total_price),
        version=order.version,
        canonical=canonical,
        updated_at=utcnow(),
    )


def decide_and_emit(
    recorder: RowRecorder,
    stored: OrderState,
    order: CanonicalOrder,
    settings: transfer.TransferSettings,
    canonical: dict[str, Any],
) -> None:
    """Apply the connection's trigger; emit `order.ready` (once) through the outbox when met.

    Only for an order not transferred yet: no service has reported on it, so its only possible
    problem is an earlier webhook that could not be read, which this readable version ends."""
    decision = transfer.decide(order, settings)
    if stored.status != decision.status or decision.transfer:
        recorder.timeline(order.order_key, f"order.{decision.status}", decision.reason)
    stored.update(
        status=decision.status,
        progress=decision.status,
        status_reason=None if decision.transfer else decision.reason,
    )
    if stored.needs_attention:
        stored.update(needs_attention=False, problems={})
    if decision.transfer:
        emit_order_ready(recorder, stored, canonical)


def emit_order_ready(recorder: RowRecorder, stored: OrderState, canonical: dict[str, Any]) -> None:
    """Send the order on (the status is the caller's: the trigger, or a replay)."""
    stored.update(transferred_at=utcnow())
    recorder.emit(
        Envelope.wrap_dumped(
            OrderReady,
            {"order": canonical},
            connection=stored.connection,
            order_key=stored.order_key,
        )
    )
