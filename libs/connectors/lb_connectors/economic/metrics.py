"""Prometheus counter of e-conomic calls, by endpoint template, method, outcome and the
connection the call was made for (bounded: lb_common/metric_labels.py)."""

from __future__ import annotations

import re

from prometheus_client import Counter

from lb_common.metric_labels import current_connection_label

ECONOMIC_CALLS = Counter(
    "ledgerbridge_economic_calls_total",
    "Calls to e-conomic's REST API by endpoint template, method, HTTP status (or 'error') and "
    "connection.",
    ["endpoint", "method", "status", "connection"],
)

ECONOMIC_CALL_RETRIES = Counter(
    "ledgerbridge_economic_call_retries_total",
    "Calls to e-conomic tried again at once by the client, by endpoint template, method and what "
    "failed (HTTP status or network error), and connection.",
    ["endpoint", "method", "failure", "connection"],
)

_HAS_DIGIT = re.compile(r"\d")


def endpoint_template(path: str) -> str:
    """`/customers/17` → `/customers/{number}`: keeps label cardinality bounded."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    out: list[str] = []
    for i, part in enumerate(parts):
        if i > 0 and parts[i - 1] == "products" and part:
            out.append("{productNumber}")
        elif _HAS_DIGIT.search(part):
            out.append("{number}")
        else:
            out.append(part)
    return "/" + "/".join(out)


def count_call(path: str, method: str, status: int | str) -> None:
    ECONOMIC_CALLS.labels(
        endpoint=endpoint_template(path),
        method=method,
        status=str(status),
        connection=current_connection_label(),
    ).inc()


def count_retry(path: str, method: str, failure: str) -> None:
    ECONOMIC_CALL_RETRIES.labels(
        endpoint=endpoint_template(path),
        method=method,
        failure=failure,
        connection=current_connection_label(),
    ).inc()
