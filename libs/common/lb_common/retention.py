"""Retention: what a service may forget, and the job that deletes it in small batches.

Every service prunes its sent outbox rows and its old inbox entries (`common_rules`); a service
adds rules for its own tables (ingest: raw deliveries and the timeline of finished orders).

How a pass runs, so that it never holds up the hot path:

- one rule at a time, `batch_size` rows per transaction: select the oldest prunable keys (by
  the rule's indexed time column), delete them by key, commit; then sleep `pause` seconds so
  that waiting writers (webhooks, consumers) get the write lock. On SQLite that lock is the
  database's one writer lock, so a batch is kept to a few milliseconds;
- a cursor on the time column moves forward after each batch: rows the rule keeps (an
  unfinished order's) are read once per pass, not once per batch.

Deletes are idempotent, so every replica may run the job: two replicas pruning at once delete
each row once between them (on PostgreSQL the second waits for the first's row locks, then
finds the rows gone). A cross-replica lease would only save the duplicate reads.

Why the inbox may forget (LEDGERBRIDGE_INBOX_RETENTION_DAYS, 30 days by default): a message
comes back within the retry path's delays (minutes), RabbitMQ's redeliveries (at once), or the
outbox relay's second publish (seconds). The one copy that can come back later is a parked one
an operator retries: a message parks only when its handler did not commit, so its id was never
in the inbox, except when a consumer committed and then crashed before every one of its
`delivery_limit` acknowledgements. For that copy, retried after the inbox forgot it, each
handler's business key keeps the redelivery harmless: customers finds the stored link,
invoicing finds the order's booked invoice (and each credit note's reference) in the ledger,
inventory reads and sets absolute stock levels, and ingest's timeline refuses a second line
with the same message id (the copy is parked again, with "a database conflict").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import ColumnElement, Table, delete, select, tuple_

from lb_common.db import Database, utcnow
from lb_common.inbox import InboxEntry
from lb_common.outbox import OutboxMessage
from lb_common.settings import CommonSettings

log = logging.getLogger(__name__)

ROWS_PRUNED = Counter(
    "ledgerbridge_rows_pruned_total",
    "Rows deleted by retention, by table.",
    ["service", "table"],
)


@dataclass(frozen=True)
class PruneRule:
    """Rows of `table` whose `time_column` is older than `keep_for` may go, where `prunable`
    (given the table) also holds. `time_column` must be indexed: each batch reads in its order."""

    table: Table
    time_column: str
    keep_for: timedelta
    prunable: Callable[[Table], ColumnElement[bool]] | None = None

    @property
    def name(self) -> str:
        return str(self.table.name)


def common_rules(settings: CommonSettings) -> list[PruneRule]:
    """Every service's outbox and inbox (a retention of 0 days or less: kept for ever)."""
    outbox_table: Table = OutboxMessage.__table__  # type: ignore[attr-defined]
    inbox_table: Table = InboxEntry.__table__  # type: ignore[attr-defined]
    rules = []
    if settings.outbox_retention_days > 0:
        rules.append(
            PruneRule(
                outbox_table,
                # Unsent rows have no published_at: `published_at < cutoff` never selects them.
                "published_at",
                timedelta(days=settings.outbox_retention_days),
            )
        )
    if settings.inbox_retention_days > 0:
        rules.append(
            PruneRule(inbox_table, "handled_at", timedelta(days=settings.inbox_retention_days))
        )
    return rules


@dataclass
class Pruner:
    """Deletes what the rules allow, in batches; `run` repeats a pass every `interval` seconds."""

    db: Database
    service: str
    rules: Sequence[PruneRule]
    batch_size: int = 500
    pause: float = 0.05
    interval: float = 3600.0
    #: Seconds before the first pass: start-up (migrations, consumers) goes first.
    first_delay: float = 30.0
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stop: asyncio.Event) -> None:
        self._stopping = stop
        delay = self.first_delay
        while not await _wait(stop, delay):
            try:
                await self.prune()
            except Exception:  # the job must outlive a broken database moment
                log.exception("retention pass failed")
            delay = self.interval

    async def prune(self, now: datetime | None = None) -> dict[str, int]:
        """One pass over every rule; returns the rows deleted per table."""
        now = now or utcnow()
        counts: dict[str, int] = {}
        for rule in self.rules:
            counts[rule.name] = counts.get(rule.name, 0) + await self._prune_rule(rule, now)
        if any(counts.values()):
            log.info("retention pass", extra={"data": {"deleted": counts}})
        return counts

    async def _prune_rule(self, rule: PruneRule, now: datetime) -> int:
        table = rule.table
        when = table.c[rule.time_column]
        keys = list(table.primary_key.columns)
        cutoff = now - rule.keep_for
        cursor: Any = None
        deleted = 0
        while not self._stopping.is_set():
            conditions = [when < cutoff]
            if cursor is not None:
                conditions.append(when >= cursor)
            if rule.prunable is not None:
                conditions.append(rule.prunable(table))
            query = select(*keys, when).where(*conditions).order_by(when).limit(self.batch_size)
            async with self.db.transaction() as session:
                connection = await session.connection()
                rows = list(await connection.execute(query))
                if rows:
                    if len(keys) == 1:
                        match = keys[0].in_([row[0] for row in rows])
                    else:
                        match = tuple_(*keys).in_([tuple(row[: len(keys)]) for row in rows])
                    await connection.execute(delete(table).where(match))
            deleted += len(rows)
            if rows:
                ROWS_PRUNED.labels(self.service, rule.name).inc(len(rows))
            if len(rows) < self.batch_size:
                return deleted
            cursor = rows[-1][-1]
            await asyncio.sleep(self.pause)  # let the hot path's writers in
        return deleted


def pruner(
    db: Database, service: str, settings: CommonSettings, rules: Sequence[PruneRule] = ()
) -> Pruner:
    """The service's pruner: the common rules plus its own, timed by the settings."""
    return Pruner(
        db,
        service,
        [*common_rules(settings), *rules],
        batch_size=settings.retention_batch_size,
        interval=settings.retention_interval_seconds,
    )


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop`; True when stopping."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
