"""The ledger calls a service made today, per agreement and connection: its share of the
agreement's daily budget (e-conomic's fair use is 50,000 calls per agreement in 24 hours, and
nothing in e-conomic tells how many were made).

The ledger client counts every request it sends (each attempt, 429s and 5xx included: e-conomic
counted them too) in a `CallTally` of its process, keyed by the UTC day, the agreement and the
connection the call was made for. A background job adds the tally to the service's
`ledger_calls` table every few seconds, as an upsert that adds (`calls = calls + n`), so the
replicas and processes of a service sum up in one row, and a restart keeps what was flushed (the
job flushes once more when the process stops; a crash loses at most one interval). A flush that
fails puts its counts back for the next one. `GET /ledger-calls?day=` answers with the rows of
one day; the console sums the services.

The agreement is named by a fingerprint (`agreement_key`): the first 12 hex digits of SHA-256
over the base URL and the agreement grant token, so that connections sharing an agreement add
up, and no token is kept or shown.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from datetime import UTC, date, datetime

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import Column, Integer, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel

from lb_common.db import Database
from lb_common.metric_labels import current_connection_label

log = logging.getLogger(__name__)

#: Seconds between flushes of a process's tally.
FLUSH_SECONDS = 5.0


class LedgerCallCount(SQLModel, table=True):
    """Calls a service made to one agreement for one connection on one UTC day."""

    __tablename__ = "ledger_calls"

    day: str = Field(sa_column=Column(String(10), primary_key=True))  # YYYY-MM-DD, UTC
    agreement: str = Field(sa_column=Column(String(16), primary_key=True))
    connection: str = Field(sa_column=Column(String(64), primary_key=True))
    calls: int = Field(sa_column=Column(Integer, nullable=False))


_table = LedgerCallCount.__table__  # type: ignore[attr-defined]


def agreement_key(base_url: str, agreement_grant_token: str) -> str:
    """The agreement's fingerprint: the same for every process and connection that uses it."""
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\x00{agreement_grant_token}".encode())
    return digest.hexdigest()[:12]


def utc_day(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).date().isoformat()


class CallTally:
    """This process's uncounted calls; `record` is cheap and synchronous (one per request)."""

    def __init__(self) -> None:
        self._pending: Counter[tuple[str, str, str]] = Counter()

    def record(self, agreement: str) -> None:
        """One request sent to `agreement`, for the connection being handled now."""
        self._pending[(utc_day(), agreement, current_connection_label())] += 1

    def counter_for(self, agreement: str) -> _AgreementCounter:
        return _AgreementCounter(self, agreement)

    @property
    def pending(self) -> int:
        return sum(self._pending.values())

    async def flush(self, db: Database) -> int:
        """Add the pending counts to the table; returns how many calls were written."""
        taken, self._pending = self._pending, Counter()
        if not taken:
            return 0
        dialect = sqlite if db.is_sqlite else postgresql
        rows = [
            {"day": d, "agreement": a, "connection": c, "calls": n}
            for (d, a, c), n in sorted(taken.items())
        ]
        statement = dialect.insert(_table)
        statement = statement.on_conflict_do_update(
            index_elements=[_table.c.day, _table.c.agreement, _table.c.connection],
            set_={"calls": _table.c.calls + statement.excluded.calls},
        )
        try:
            async with db.write_connection() as connection:
                await connection.execute(statement, rows)
        except BaseException:
            self._pending.update(taken)  # counted next time: nothing lost
            raise
        return sum(taken.values())

    async def keep_flushing(self, db: Database, stopping: asyncio.Event) -> None:
        """A background job: flush every FLUSH_SECONDS, and once more when the process stops."""
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), FLUSH_SECONDS)
            except TimeoutError:
                pass
            try:
                await self.flush(db)
            except Exception:
                log.warning("ledger call counts not written yet; trying again", exc_info=True)


class _AgreementCounter:
    """The hook a ledger client calls for every request it sends."""

    def __init__(self, tally: CallTally, agreement: str) -> None:
        self._tally, self.agreement = tally, agreement

    def __call__(self) -> None:
        self._tally.record(self.agreement)


async def calls_on(db: Database, day: str) -> list[dict[str, object]]:
    async with db.engine.connect() as connection:
        result = await connection.execute(
            select(_table.c.agreement, _table.c.connection, _table.c.calls)
            .where(_table.c.day == day)
            .order_by(_table.c.agreement, _table.c.connection)
        )
        return [{"agreement": a, "connection": c, "calls": int(n)} for a, c, n in result.all()]


def ledger_calls_router(db: Database) -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.get("/ledger-calls")
    async def ledger_calls(
        day: str | None = Query(
            default=None,
            description="The UTC day, YYYY-MM-DD; omitted: today (UTC).",
            max_length=10,
        ),
    ) -> dict[str, object]:
        """The ledger calls this service made on one UTC day, per agreement (a fingerprint,
        no token) and connection, every replica together; up to a few seconds behind."""
        if day is None:
            day = utc_day()
        else:
            try:
                day = date.fromisoformat(day).isoformat()
            except ValueError:
                raise HTTPException(422, f"day {day!r} is not a date (YYYY-MM-DD)") from None
        return {"day": day, "calls": await calls_on(db, day)}

    return router
