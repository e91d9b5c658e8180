"""Where order logic writes its timeline entries and outgoing messages.

The same logic (orders.py) runs on a session, one order at a time (replay), and in the webhook
writer's group commit, which collects plain rows and inserts them in bulk.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.envelope import Envelope
from lb_common.outbox import add_to_outbox, insert_outbox_rows, outbox_row
from lb_ingest.store import TimelineEntry
from lb_ingest.timeline import add_entry, entry_row


class Recorder(Protocol):
    def timeline(self, order_key: str, step: str, message: str, **kw: Any) -> None: ...

    def emit(self, envelope: Envelope) -> None: ...


class SessionRecorder:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def timeline(self, order_key: str, step: str, message: str, **kw: Any) -> None:
        add_entry(self._session, order_key, step, message, **kw)

    def emit(self, envelope: Envelope) -> None:
        add_to_outbox(self._session, envelope)


class RowRecorder:
    """Collects rows; `write` inserts them with one statement per table."""

    def __init__(self) -> None:
        self.timeline_rows: list[dict[str, Any]] = []
        self.outbox_rows: list[dict[str, Any]] = []

    def timeline(self, order_key: str, step: str, message: str, **kw: Any) -> None:
        self.timeline_rows.append(entry_row(order_key, step, message, **kw))

    def emit(self, envelope: Envelope) -> None:
        self.outbox_rows.append(outbox_row(envelope))

    async def write(self, session: AsyncSession) -> None:
        if self.timeline_rows:
            connection = await session.connection()
            await connection.execute(insert(TimelineEntry), self.timeline_rows)
        await insert_outbox_rows(session, self.outbox_rows)
