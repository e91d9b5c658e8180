"""W3C trace context carried through message headers (`traceparent`), without a tracing backend.

The consumer sets the incoming message's context; everything emitted while handling it becomes a
child span of the same trace, so a trace id follows an order through every service.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

_current: ContextVar[str | None] = ContextVar("traceparent", default=None)
_PATTERN = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def set_current(traceparent: str | None) -> None:
    _current.set(traceparent if traceparent and _PATTERN.match(traceparent) else None)


def child_traceparent() -> str:
    """A new span in the current trace, or a new trace when there is none."""
    parent = _current.get()
    match = _PATTERN.match(parent) if parent else None
    trace_id = match.group(1) if match else secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"
