"""Prometheus metrics shared by every service (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

MESSAGES_HANDLED = Counter(
    "ledgerbridge_messages_handled_total",
    "Messages a consumer finished with, by outcome (ok, duplicate, retry, parked).",
    ["service", "type", "outcome"],
)
