"""What ingest may forget: raw deliveries and timeline entries of finished orders.

A finished order got as far as booked (or credited), skipped or cancelled, with no problem
open (`needs_attention`, see order_status.py): replay has nothing to send for it, so nothing will read its raw bodies again. Orders still waiting,
in flight or failed keep every delivery and timeline line, however old, so that a bookkeeper
can replay them. The orders themselves are kept.

A webhook delivered again after its delivery row is gone is still harmless: its order's stored
version makes it stale or an unchanged version, the order is already transferred (no second
`order.ready`), refunds are kept by the platform's refund id and cancellations by a flag, none
of which is pruned. Platforms stop retrying long before the 30 days' default: Shopify after 8
retries over 4 hours since 2024-09 (shopify.dev changelog "Updates to webhook retry
mechanism"; 19 over 48 hours before), and WooCommerce's core does not retry at all.

Keap (fetch after notify): a hook delivery is kept while any object it named still waits to be
fetched; a `notified_objects` row is forgotten once fetched (or gone) and as old as deliveries
may get. Keap stops retrying a change after about 36 minutes, so its dedupe row outlives it.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, Table, and_, exists, or_, select

from lb_common.retention import PruneRule
from lb_common.settings import CommonSettings
from lb_ingest import order_status
from lb_ingest.store import Delivery, NotifiedObject, OrderRecord, TimelineEntry

_orders: Table = OrderRecord.__table__  # type: ignore[attr-defined]
_notified: Table = NotifiedObject.__table__  # type: ignore[attr-defined]

FINISHED_PROGRESS = (
    order_status.SKIPPED,
    order_status.CANCELLED,
    order_status.BOOKED,
    order_status.PARTLY_CREDITED,
    order_status.CREDITED,
)


def finished(order_key: ColumnElement[str]) -> ColumnElement[bool]:
    """The order with this key is finished (see the module's docstring)."""
    return exists(
        select(_orders.c.order_key).where(
            _orders.c.order_key == order_key,
            _orders.c.progress.in_(FINISHED_PROGRESS),
            _orders.c.needs_attention.is_(False),
        )
    )


def _delivery_prunable(table: Table) -> ColumnElement[bool]:
    # `received`: not applied yet. No order key: a stock report, an unknown topic or a request
    # that could not be identified; nothing to replay.
    # `notified`: a hook's ids, kept while one of them waits to be fetched.
    waiting = exists(
        select(_notified.c.id).where(
            _notified.c.delivery_id == table.c.delivery_id, _notified.c.status == "waiting"
        )
    )
    return and_(
        table.c.outcome != "received",
        or_(table.c.order_key.is_(None), finished(table.c.order_key)),
        or_(table.c.outcome != "notified", ~waiting),
    )


def _notified_prunable(table: Table) -> ColumnElement[bool]:
    return table.c.status != "waiting"


def _timeline_prunable(table: Table) -> ColumnElement[bool]:
    return finished(table.c.order_key)


def rules(settings: CommonSettings) -> list[PruneRule]:
    found = []
    if settings.delivery_retention_days > 0:
        found.append(
            PruneRule(
                Delivery.__table__,  # type: ignore[attr-defined]
                "received_at",
                timedelta(days=settings.delivery_retention_days),
                _delivery_prunable,
            )
        )
        found.append(
            PruneRule(
                _notified,
                "received_at",
                timedelta(days=settings.delivery_retention_days),
                _notified_prunable,
            )
        )
    if settings.timeline_retention_days > 0:
        found.append(
            PruneRule(
                TimelineEntry.__table__,  # type: ignore[attr-defined]
                "at",
                timedelta(days=settings.timeline_retention_days),
                _timeline_prunable,
            )
        )
    return found
