"""Webhooks counted per connection: `ledgerbridge_webhooks_total{platform, connection, status}`,
and how long ingest took to answer them: `ledgerbridge_webhook_accept_seconds{platform}`.
A delivery for an unknown platform or connection (404) is counted as `unknown`, so a caller
cannot make label values up; the rest is bounded as lb_common/metric_labels.py says."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from lb_common.metric_labels import UNKNOWN, connection_label
from lb_connectors.platforms.registry import ADAPTERS

WEBHOOKS = Counter(
    "ledgerbridge_webhooks_total",
    "Webhook deliveries answered by ingest, by platform, connection and HTTP status.",
    ["platform", "connection", "status"],
)

# From the first byte of the body read to the answer: what a shop waits for (Shopify gives up
# after 5 s). Buckets around the goal of a few milliseconds.
WEBHOOK_ACCEPT_SECONDS = Histogram(
    "ledgerbridge_webhook_accept_seconds",
    "Time ingest took to verify, store and answer a webhook delivery, by platform.",
    ["platform"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def count_webhook(platform: str, connection: str, status: int, seconds: float) -> None:
    known = status != 404
    platform_label = platform if platform in ADAPTERS else UNKNOWN
    WEBHOOK_ACCEPT_SECONDS.labels(platform=platform_label).observe(seconds)
    WEBHOOKS.labels(
        platform=platform_label,
        connection=connection_label(connection) if known else UNKNOWN,
        status=str(status),
    ).inc()
