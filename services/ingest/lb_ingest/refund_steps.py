"""Refunds a platform reports as a running figure (Keap's `refund_total`: no refund ids, no
lines) become refunds of their own: each is the step from the figure last sent on.

A "refunded to date" refund (lb_connectors.platforms.base.REFUNDED_TO_DATE) is named by the
figure itself, so reading the same figure again (a re-fetch, a redelivered hook, reconciliation)
is the same refund id and is dropped as seen; a higher figure is a new id, and carries only the
difference. Orders are read newest first (a stale version never reaches here), so the figure
only grows; one that did not grow brings nothing.

A deletion after such refunds credits the rest as one more step, up to the order's total, rather
than as a cancellation: invoicing's cancellation credits the invoice's line quantities not yet
credited, and a refund with no lines credits no quantity, so it would credit those refunds again.

Plain functions over plain data; acceptance.py calls them inside the order's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from lb_common.events import Refund
from lb_common.orders import CanonicalOrder
from lb_connectors.platforms.base import REFUNDED_TO_DATE, refunded_to_date_id
from lb_ingest.refunds import SeenRefund

ZERO = Decimal(0)


def is_to_date(refund: Refund) -> bool:
    return refund.refund_id.startswith(REFUNDED_TO_DATE)


def sent_to_date(order_key: str, seen: Iterable[SeenRefund]) -> Decimal:
    """The highest figure already recorded for the order (each step records its figure)."""
    figures = [
        Decimal(s.refund_id.removeprefix(REFUNDED_TO_DATE))
        for s in seen
        if s.order_key == order_key and s.refund_id.startswith(REFUNDED_TO_DATE)
    ]
    return max(figures, default=ZERO)


def step(refund: Refund, order_key: str, seen: Iterable[SeenRefund]) -> Refund | None:
    """The refund to record: a plain one as it is; a figure to date as the step since the last
    figure recorded (None when it did not grow)."""
    if not is_to_date(refund):
        return refund
    figure = refund.total
    before = sent_to_date(order_key, seen)
    if figure <= before:
        return None
    amount = figure - before
    return refund.model_copy(
        update={
            "adjustments": amount,
            "total": amount,
            "note": "; ".join(
                filter(None, (refund.note, f"refunded to date rose from {before} to {figure}"))
            ),
        }
    )


def credits_by_amount(
    order_key: str, refunds: Iterable[Refund], seen: Iterable[SeenRefund]
) -> bool:
    """Whether the order's refunds so far are figures to date (it is credited by amount)."""
    return any(is_to_date(r) for r in refunds) or sent_to_date(order_key, seen) > 0


def closing(order: CanonicalOrder, at: datetime) -> Refund:
    """The rest of the order's total, as a figure to date: what a deletion credits."""
    return Refund(
        refund_id=refunded_to_date_id(order.total_price),
        created_at=at.isoformat(),
        currency=order.currency,
        adjustments=order.total_price,
        total=order.total_price,
        note="The order was deleted: the rest of its total is credited",
    )
