"""Tell inventory which units an order holds: the shop took them from its stock when the order
was placed, the ledger takes them only when the invoice is booked. Until then inventory must not
hand them back to the shop (see docs/inventory-stock-sync.md)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Literal

from lb_common.envelope import Envelope
from lb_common.events import HeldLine, OrderUnitsHeld
from lb_common.orders import CanonicalOrder
from lb_ingest import order_status
from lb_ingest.orders import Order
from lb_ingest.recorder import RowRecorder


def held_lines(order: CanonicalOrder) -> tuple[HeldLine, ...]:
    """Units per SKU of the order's stocked lines (gift cards and fees keep no stock)."""
    units: defaultdict[str, Decimal] = defaultdict(Decimal)
    for line in order.lines:
        if line.sku and line.kind == "product" and not line.gift_card:
            units[line.sku] += line.quantity
    return tuple(HeldLine(sku=sku, quantity=q) for sku, q in sorted(units.items()) if q > 0)


def emit_held_units(recorder: RowRecorder, stored: Order, order: CanonicalOrder) -> None:
    """After a new version of `order` is applied: its held units (or their release), until it is
    booked. An order without stocked lines sends nothing (its invoice releases what an earlier
    version held)."""
    if order_status.reached(stored.progress, order_status.BOOKED):
        return  # invoice.booked released the units in inventory
    reason: Literal["cancelled", "skipped"] | None = None
    if order.cancelled_at is not None:
        reason = "cancelled"
    elif stored.progress == order_status.SKIPPED:
        reason = "skipped"
    released = reason is not None
    lines = () if released else held_lines(order)
    if not lines and not released:
        return
    recorder.emit(
        Envelope.wrap(
            OrderUnitsHeld(
                order_key=order.order_key,
                version=order.version,
                lines=lines,
                released=released,
                reason=reason,
            ),
            connection=stored.connection,
            order_key=order.order_key,
        )
    )
