"""Webhooks counted per connection: `ledgerbridge_webhooks_total{platform, connection, status}`.
A delivery for an unknown platform or connection (404) is counted as `unknown`, so a caller
cannot make label values up; the rest is bounded as lb_common/metric_labels.py says."""

from __future__ import annotations

from prometheus_client import Counter

from lb_common.metric_labels import UNKNOWN, connection_label
from lb_connectors.platforms.registry import ADAPTERS

WEBHOOKS = Counter(
    "ledgerbridge_webhooks_total",
    "Webhook deliveries answered by ingest, by platform, connection and HTTP status.",
    ["platform", "connection", "status"],
)


def count_webhook(platform: str, connection: str, status: int) -> None:
    known = status != 404
    WEBHOOKS.labels(
        platform=platform if platform in ADAPTERS else UNKNOWN,
        connection=connection_label(connection) if known else UNKNOWN,
        status=str(status),
    ).inc()
