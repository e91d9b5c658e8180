"""The order timeline: entries written by ingest itself and by every service's progress events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.db import utcnow
from lb_ingest.store import TimelineEntry


def entry_row(
    order_key: str,
    step: str,
    message: str,
    *,
    service: str = "ingest",
    level: str = "info",
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    return {
        "order_key": order_key,
        "at": at or utcnow(),
        "service": service,
        "step": step,
        "message": message,
        "level": level,
        "details": details or {},
        "message_id": message_id,
    }


def add_entry(session: AsyncSession, order_key: str, step: str, message: str, **kw: Any) -> None:
    session.add(TimelineEntry(**entry_row(order_key, step, message, **kw)))
