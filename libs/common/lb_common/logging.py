"""JSON logs with the order key and correlation id on every line (carried in context variables)."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

from opentelemetry import trace


def current_trace_id() -> str | None:
    """The trace id of the span the line is logged in (32 hex digits), to find its trace."""
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


_order_key: ContextVar[str | None] = ContextVar("order_key", default=None)
_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_service: ContextVar[str | None] = ContextVar("service", default=None)


@contextlib.contextmanager
def log_context(
    *, order_key: str | None = None, correlation_id: str | None = None
) -> Iterator[None]:
    tokens = [_order_key.set(order_key), _correlation_id.set(correlation_id)]
    try:
        yield
    finally:
        _correlation_id.reset(tokens[1])
        _order_key.reset(tokens[0])


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": _service.get(),
            "logger": record.name,
            "msg": record.getMessage(),
            "order_key": _order_key.get(),
            "correlation_id": _correlation_id.get(),
            "trace_id": current_trace_id(),
        }
        extra = getattr(record, "data", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(service: str, *, level: str = "INFO", json_lines: bool = True) -> None:
    _service.set(service)
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Their INFO lines are per request/connection noise; warnings still come through.
    for noisy in ("aiormq", "aio_pika", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
