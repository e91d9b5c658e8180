"""Prometheus metrics shared by every service (served at /metrics). `connection` is bounded:
lb_common/metric_labels.py."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

MESSAGES_HANDLED = Counter(
    "ledgerbridge_messages_handled_total",
    "Messages a consumer finished with, by connection and outcome (ok, duplicate, retry, parked).",
    ["service", "type", "outcome", "connection"],
)

MESSAGES_RETRIED = Counter(
    "ledgerbridge_message_retries_total",
    "Messages sent to a retry queue, by service, event type, cause (contention, "
    "ledger_unavailable, rate_limited, unexpected) and connection.",
    ["service", "type", "cause", "connection"],
)

MESSAGES_PARKED = Counter(
    "ledgerbridge_messages_parked_total",
    "Messages parked, by service, event type and cause (permanent, unreadable, no_handler, or "
    "the transient cause whose retries ran out) and connection.",
    ["service", "type", "cause", "connection"],
)

# Outbox lag: measured by each process's relay every few seconds (outbox.py). Processes of one
# service sharing a database report the same figure: read it with max by (service).
OUTBOX_PENDING = Gauge(
    "ledgerbridge_outbox_pending",
    "Messages written to the service's outbox and not yet published to the broker.",
    ["service"],
)

OUTBOX_OLDEST_PENDING_SECONDS = Gauge(
    "ledgerbridge_outbox_oldest_pending_seconds",
    "Age of the oldest message in the service's outbox not yet published (0 when none).",
    ["service"],
)
