"""Where order logic writes its timeline entries and outgoing messages: collected as plain rows,
inserted with one statement per table when the transaction is written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, insert

from lb_common.envelope import Envelope
from lb_common.outbox import insert_outbox_rows, outbox_row
from lb_ingest.store import TimelineEntry
from lb_ingest.timeline import entry_row

_timeline: Table = TimelineEntry.__table__  # type: ignore[attr-defined]
#: Built once: ingest's hot paths insert timeline rows in every transaction.
INSERT_TIMELINE = insert(_timeline)


class RowRecorder:
    def __init__(self) -> None:
        self.timeline_rows: list[dict[str, Any]] = []
        self.outbox_rows: list[dict[str, Any]] = []

    def timeline(self, order_key: str, step: str, message: str, **kw: Any) -> None:
        self.timeline_rows.append(entry_row(order_key, step, message, **kw))

    def emit(self, envelope: Envelope) -> None:
        self.outbox_rows.append(outbox_row(envelope))

    def write(self, connection: Connection) -> None:
        if self.timeline_rows:
            connection.execute(INSERT_TIMELINE, self.timeline_rows)
        insert_outbox_rows(connection, self.outbox_rows)
