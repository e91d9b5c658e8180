"""ingest's order: one typed model, read and written through order_repository.py, and the rules
the webhook path and replay apply to it.

`Order` is a plain dataclass (not the ORM row, store.OrderRecord, which only declares the
table): the webhook writer handles hundreds of orders per second, and the repository writes
back only the columns that changed since it loaded the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from lb_common.db import utcnow
from lb_common.envelope import Envelope
from lb_common.events import OrderReady
from lb_common.orders import CanonicalOrder
from lb_ingest import order_status, transfer
from lb_ingest.order_status import OrderStatus
from lb_ingest.recorder import RowRecorder


class DocumentNotLoaded(RuntimeError):
    """The order was read without its canonical document (see OrderRepository.get_many)."""


#: What `Order.document` holds when the order was read without it.
NOT_LOADED: Any = object()


@dataclass(eq=False)
class Order:
    """The newest version of one order, and where it stands (columns of the `orders` table).

    Replace `problems` and `canonical` whole, never change them in place: the repository finds
    what to write by comparing with what it loaded."""

    order_key: str
    connection: str  # the name of the shop connection it came through
    platform: str
    shop: str
    order_id: str
    status: str = order_status.RECEIVED
    status_reason: str | None = None
    progress: str = order_status.RECEIVED
    problems: dict[str, Any] = field(default_factory=dict)
    needs_attention: bool = False
    version: datetime | None = None
    order_name: str | None = None
    email: str | None = None
    currency: str | None = None
    total: str | None = None  # Decimal as text
    transferred_at: datetime | None = None
    customer_number: int | None = None
    invoice_number: int | None = None
    cancellation_sent: bool = False
    received_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    # The canonical order (CanonicalOrder dumped as JSON), column `canonical`. Read it through
    # `canonical`: an order read without it holds a marker here.
    document: dict[str, Any] | None = field(default=None, repr=False)
    #: What the repository loaded (column -> value); None for an order not stored yet.
    loaded: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def canonical(self) -> dict[str, Any] | None:
        if self.document is NOT_LOADED:
            raise DocumentNotLoaded(f"order {self.order_key} was read without its document")
        return self.document

    @property
    def status_machine(self) -> OrderStatus:
        return OrderStatus.load(self.progress, self.problems)

    def take_status(self, after: OrderStatus, before: OrderStatus | None = None) -> None:
        """Store what the state machine decided (order_status.py) after a service's report.
        `before`: the state as loaded from this order, when the caller has it already."""
        before_attention = (before or self.status_machine).needs_attention
        self.progress = after.progress
        self.problems = after.marks_json()
        self.needs_attention = after.needs_attention
        self.status = after.status
        if after.needs_attention:
            self.status_reason = after.reason
        elif before_attention or self.status_reason is not None:
            self.status_reason = None  # the trigger's reason is history once the order went on
        self.updated_at = utcnow()


#: The `orders` columns, by the model's field names (the model's `document` is `canonical`).
COLUMNS: dict[str, str] = {
    f.name: ("canonical" if f.name == "document" else f.name)
    for f in fields(Order)
    if f.name != "loaded"
}


def new_order(shop_connection: str, order: CanonicalOrder) -> Order:
    return Order(
        order_key=order.order_key,
        connection=shop_connection,
        platform=order.platform,
        shop=order.shop,
        order_id=order.order_id,
    )


def apply_version(stored: Order, order: CanonicalOrder, canonical: dict[str, Any]) -> None:
    """Make `order` (dumped as `canonical`) the stored newest version."""
    stored.order_name = order.order_name
    stored.email = order.buyer.email if order.buyer else None
    stored.currency = order.currency
    stored.total = str(order.total_price)
    stored.version = order.version
    stored.document = canonical
    stored.updated_at = utcnow()


def decide_and_emit(
    recorder: RowRecorder,
    stored: Order,
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
    stored.status = decision.status
    stored.progress = decision.status
    stored.status_reason = None if decision.transfer else decision.reason
    if stored.needs_attention:
        stored.needs_attention = False
        stored.problems = {}
    if decision.transfer:
        emit_order_ready(recorder, stored, canonical)


def emit_order_ready(recorder: RowRecorder, stored: Order, canonical: dict[str, Any]) -> None:
    """Send the order on (the status is the caller's: the trigger, or a replay)."""
    stored.transferred_at = utcnow()
    recorder.emit(
        Envelope.wrap_dumped(
            OrderReady,
            {"order": canonical},
            connection=stored.connection,
            order_key=stored.order_key,
        )
    )
