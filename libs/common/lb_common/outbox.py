"""Outbox: messages are written in the transaction of the state change that causes them; the relay
publishes them with publisher confirms and marks them sent.

Relay semantics: at-least-once. A crash after the broker's confirm and before `published_at` is
written publishes the message again; consumers drop it through their inbox. A message that cannot
be published (unroutable, broker down) is retried with backoff and never blocks the others.

Several relays (replicas, or processes on one SQLite file) share the rows by claiming them: one
short write transaction marks a batch `claimed_by` this relay `claimed_until` a deadline, the
relay publishes with no transaction open, then a second short transaction records the outcome.
Another relay skips claimed rows, so in normal operation a row is published once; the rows of a
relay that died after claiming are claimed again once their deadline has passed. While rows keep
coming, the transaction that records a batch's outcome also claims the next batch: one write
transaction per batch instead of two. A relay that stops gives back what it claimed and did not
publish.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Connection, LargeBinary, Text, bindparam, func, insert, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common import tracing
from lb_common.db import Database, UTCDateTime, utcnow
from lb_common.envelope import Envelope
from lb_common.metrics import OUTBOX_OLDEST_PENDING_SECONDS, OUTBOX_PENDING
from lb_common.work_loop import WorkLoop

log = logging.getLogger(__name__)

#: Set in a commit's `info` when it added outbox rows: wakes the relay (work_loop.py).
ADDED_FLAG = _ADDED_FLAG = "outbox_added"
BACKLOG_MEASURE_SECONDS = 5.0


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(unique=True)
    routing_key: str
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    published_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, index=True))
    attempts: int = 0
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    last_error: str | None = None
    #: The relay publishing the row (see the module's docstring), and until when it may.
    claimed_by: str | None = None
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


def outbox_row(envelope: Envelope) -> dict[str, Any]:
    """The outbox row for `envelope`, as plain values (for bulk inserts)."""
    now = utcnow()
    return {
        "message_id": envelope.message_id,
        "routing_key": envelope.type,
        "body": envelope.to_bytes(),
        "headers": json.dumps(tracing.message_headers(f"emit {envelope.type}")),
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
    }


def add_to_outbox(session: AsyncSession, envelope: Envelope) -> None:
    """Queue `envelope` for publishing when (and only if) the surrounding transaction commits."""
    session.add(OutboxMessage(**outbox_row(envelope)))
    session.info[_ADDED_FLAG] = True


def insert_outbox_rows(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Bulk form of add_to_outbox, for hot paths (Database.write_sync) that write many messages
    in one transaction."""
    if rows:
        connection.execute(insert(OutboxMessage), rows)
        connection.info[_ADDED_FLAG] = True


async def pending_count(session: AsyncSession) -> int:
    result = await session.exec(
        select(func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.published_at).is_(None))
    )
    return int(result.one())


Publish = Callable[[str, bytes, str, dict[str, str]], Awaitable[None]]


class OutboxRelay:
    """Publishes pending outbox rows. Woken right after a commit that added rows, polls otherwise.

    `holder` names this relay in `claimed_by`; `claim_seconds` is how long its claim on a batch
    lasts: far above a publish's time (milliseconds), and how long a dead relay's rows wait.
    """

    def __init__(
        self,
        db: Database,
        publish: Publish,
        *,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        holder: str | None = None,
        claim_seconds: float = 30.0,
        service: str = "",
    ) -> None:
        self._db = db
        self._service = service
        self._next_measure = 0.0
        self._publish = publish
        self._batch_size = batch_size
        self.holder = holder or f"relay-{uuid.uuid4().hex[:12]}"
        self._claim_seconds = claim_seconds
        # Claimed by the last pass's record transaction, for the next pass to publish.
        self._claimed: list[Any] = []
        self._loop = WorkLoop(
            db,
            flag=_ADDED_FLAG,
            work=self.publish_pending,
            poll_interval=poll_interval,
            what="outbox relay pass",
            batch_size=batch_size,
        )

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._loop.run(stop)
        finally:
            await self._release()

    async def publish_pending(self) -> int:
        """Publish one batch of due messages; returns how many were published."""
        await self._measure_backlog()
        claim = functools.partial(
            _claim, holder=self.holder, limit=self._batch_size, seconds=self._claim_seconds
        )
        rows, self._claimed = self._claimed, []
        if not rows:
            rows = await self._db.write_sync(claim)
        if not rows:
            return 0
        # No transaction is open while the broker confirms: the claim keeps other relays off.
        outcomes = await self._publish_all(rows)
        self._claimed = await self._db.write_sync(
            functools.partial(_record_and_claim, rows=rows, outcomes=outcomes, claim=claim)
        )
        if self._claimed:
            self._loop.again()  # the next pass publishes them at once
        return sum(1 for error in outcomes if error is None)

    async def _release(self) -> None:
        """Give back rows claimed for a pass that will not run (the relay stops): another
        relay, or this service's next start, publishes them without waiting for the claim's
        deadline."""
        rows, self._claimed = self._claimed, []
        if rows:
            try:
                await self._db.write_sync(
                    functools.partial(_unclaim, rows=rows, holder=self.holder)
                )
            except Exception:  # their claim expires on its own
                log.warning("could not give back %d claimed outbox rows", len(rows), exc_info=True)

    async def _measure_backlog(self) -> None:
        """The outbox's backlog for /metrics (outbox lag), at most every few seconds: one
        indexed query, not one per pass."""
        now = asyncio.get_running_loop().time()
        if now < self._next_measure:
            return
        self._next_measure = now + BACKLOG_MEASURE_SECONDS
        async with self._db.session() as session:
            pending, oldest = (
                await session.exec(
                    select(
                        func.count(), func.min(OutboxMessage.created_at, type_=UTCDateTime())
                    ).where(col(OutboxMessage.published_at).is_(None))
                )
            ).one()
        OUTBOX_PENDING.labels(service=self._service).set(pending)
        age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        OUTBOX_OLDEST_PENDING_SECONDS.labels(service=self._service).set(max(age, 0.0))

    async def _publish_all(self, rows: list[Any]) -> list[str | None]:
        # Confirms are awaited together, so a batch costs about one broker round trip.
        return list(await asyncio.gather(*(self._try_publish(row) for row in rows)))

    async def _try_publish(self, row: Any) -> str | None:
        try:
            await self._publish(row.routing_key, row.body, row.message_id, json.loads(row.headers))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning(
                "outbox publish failed, will retry",
                extra={"data": {"message_id": row.message_id, "error": error}},
            )
            return error
        return None

    async def flush(self, timeout: float = 10.0) -> None:
        """Publish everything due now (used on shutdown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and await self.publish_pending():
            pass
        await self._release()


def _claim(connection: Connection, *, holder: str, limit: int, seconds: float) -> list[Any]:
    """Claim up to `limit` due rows that no live claim holds, in one statement; return them."""
    sqlite = connection.dialect.name == "sqlite"
    now = utcnow()
    params: dict[str, Any] = {"holder": holder, "due_by": now}
    if sqlite:
        params |= {"now": now, "until": now + timedelta(seconds=seconds)}
    # Plain rows, not ORM objects: the relay handles every message a service sends.
    claimed = connection.execute(_claim_statement(sqlite, limit, seconds), params).all()
    return sorted(claimed, key=lambda row: row.id)


_CLAIMS: dict[tuple[bool, int, float], Any] = {}


def _claim_statement(sqlite: bool, limit: int, seconds: float) -> Any:
    """The claim, built once per store kind and relay settings (a relay runs it every pass)."""
    key = (sqlite, limit, seconds)
    found = _CLAIMS.get(key)
    if found is not None:
        return found
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    now: ColumnElement[Any]
    until: ColumnElement[Any]
    if sqlite:
        now, until = bindparam("now", type_=UTCDateTime), bindparam("until", type_=UTCDateTime)
    else:
        # PostgreSQL's clock, where relays on several hosts compare claim deadlines.
        now, until = func.now(), func.now() + timedelta(seconds=seconds)
    due = (
        core_select(table.c.id)
        .where(
            table.c.published_at.is_(None),
            table.c.next_attempt_at <= bindparam("due_by", type_=UTCDateTime),
            or_(table.c.claimed_until.is_(None), table.c.claimed_until <= now),
        )
        .order_by(table.c.id)
        .limit(limit)
    )
    if not sqlite:
        # Relays claiming at the same moment take different rows instead of waiting in line.
        due = due.with_for_update(skip_locked=True)
    found = _CLAIMS[key] = (
        update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values(claimed_by=bindparam("holder"), claimed_until=until)
        .returning(table.c.id, table.c.routing_key, table.c.body, table.c.message_id,
                   table.c.headers, table.c.attempts)
    )  # fmt: skip
    return found


def _record_and_claim(
    connection: Connection,
    *,
    rows: list[Any],
    outcomes: list[str | None],
    claim: Callable[[Connection], list[Any]],
) -> list[Any]:
    """`_record`, then `claim` the next batch, in the one transaction."""
    _record(connection, rows=rows, outcomes=outcomes)
    return claim(connection)


def _unclaim(connection: Connection, *, rows: list[Any], holder: str) -> None:
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    connection.execute(
        update(table)
        .where(table.c.id.in_([row.id for row in rows]), table.c.claimed_by == holder)
        .values(claimed_by=None, claimed_until=None)
    )


_TABLE = OutboxMessage.__table__  # type: ignore[attr-defined]
_MARK_SENT = (
    update(_TABLE)
    .where(_TABLE.c.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=bindparam("at", type_=UTCDateTime), claimed_by=None, claimed_until=None)
)


def _record(connection: Connection, *, rows: list[Any], outcomes: list[str | None]) -> None:
    """Mark what was published; give what failed a later attempt, with backoff and jitter."""
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    sent = [row.id for row, error in zip(rows, outcomes, strict=True) if error is None]
    if sent:
        connection.execute(_MARK_SENT, {"ids": sent, "at": utcnow()})
    for row, error in zip(rows, outcomes, strict=True):
        if error is None:
            continue
        attempts = row.attempts + 1
        delay = min(60.0, 0.5 * 2**attempts) * random.uniform(0.5, 1.0)
        connection.execute(
            update(table)
            .where(table.c.id == row.id)
            .values(
                attempts=attempts,
                last_error=error,
                next_attempt_at=utcnow() + timedelta(seconds=delay),
                claimed_by=None,
                claimed_until=None,
            )
        )
