"""The `connection` label of per-connection metrics (messages, webhooks, ledger calls), with its
cardinality bounded three ways:

1. Values are names of connections an operator created on ingest's admin API (there are as
   many as the deployment has shops), never free input: a webhook for a connection that does
   not exist is counted as `unknown`, work outside any connection as `none`.
2. A name must look like one (at most 64 letters, digits, `.`, `_`, `-`), else it is `other`.
3. Each process labels at most `MAX_CONNECTION_LABELS` distinct names; later ones are `other`
   (a deployment with more connections than that raises the limit, and its Prometheus with it).

Ledger calls are shared by every connection of one agreement (one client per agreement), so
the connection a call was made for travels in a context variable, set while a message (or an
admin action) for that connection is handled.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar

MAX_CONNECTION_LABELS = 200
NONE, OTHER, UNKNOWN = "none", "other", "unknown"
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_labelled: set[str] = set()
_current: ContextVar[str | None] = ContextVar("metrics_connection", default=None)


def connection_label(name: str | None) -> str:
    if not name:
        return NONE
    if name in _labelled:
        return name
    if len(_labelled) >= MAX_CONNECTION_LABELS or not _NAME.fullmatch(name):
        return OTHER
    _labelled.add(name)
    return name


@contextlib.contextmanager
def for_connection(name: str | None) -> Iterator[None]:
    """Metrics counted inside the block (ledger calls) carry `name`'s label."""
    token = _current.set(name)
    try:
        yield
    finally:
        _current.reset(token)


def current_connection_label() -> str:
    return connection_label(_current.get())
