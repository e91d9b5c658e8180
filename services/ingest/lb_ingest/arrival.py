"""What the request hands the writer (an `Arrival`), and what the platform gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lb_common import tracing
from lb_common.events import Refund, ShopStockReported
from lb_common.orders import CanonicalOrder
from lb_connectors.platforms.base import DeliveryInfo, TopicKind
from lb_ingest.connections import ActiveConnection


@dataclass
class Arrival:
    """One authenticated delivery, as far as the request could read it."""

    shop_connection: ActiveConnection
    platform: str
    info: DeliveryInfo | None  # None: a header needed to identify it is missing
    body: bytes
    kind: TopicKind | None = None
    order: CanonicalOrder | None = None
    problem: str | None = None  # why it cannot be used (missing header, unreadable payload)
    order_key: str | None = None  # when only the order id could be read (or for a refund)
    refunds: list[Refund] = field(default_factory=list)
    stock: ShopStockReported | None = None
    # The trace of the request it came in (the webhook's span): what it emits continues it.
    trace: dict[str, str] = field(default_factory=tracing.current_headers)


@dataclass(frozen=True)
class WebhookAnswer:
    status_code: int
    body: dict[str, Any] = field(default_factory=dict)


def error_answer(status: int, message: str, **extra: Any) -> WebhookAnswer:
    """A 4xx/5xx answer whose body names the problem (`{"error": ...}`)."""
    return WebhookAnswer(status, {"error": message, **extra})
