"""Speed trick: each SQLite statement runs right on the event loop's thread, with no hand-over.

SQLAlchemy's aiosqlite adapter runs a statement as separate calls to the connection's own
thread: make a cursor, execute, fetch the rows, close the cursor. Each call is a hand-over
between the event loop and that thread (a future, a queue, a wake-up, a call back into the
loop, the GIL passed to and fro). Doing the whole statement in one hand-over (this module's first
version) cut that to one per statement; running it here cuts it to none. What makes that safe:

- a write transaction starts only once its process holds the SQLite write lock (write_lock.py:
  an asyncio lock plus a `flock` every process sharing the file takes), so `BEGIN IMMEDIATE`
  and what follows never wait in SQLite's busy handler, which would stall the loop;
- reads in WAL mode never wait for a writer;
- the statements are small (rows of a message or a page of an admin list) and most of their
  time was Python holding the GIL anyway, which the thread could not overlap with the loop.

Measured with bench/message_cost.py (one message consumed, its effect and two outbox rows
committed), alternating with the one-hand-over driver on the 2-core machine at load 13-15:
2.28 / 2.54 against 3.57 / 3.55 ms of CPU per message consumed; consumed with the relay
publishing beside it 2.93 / 3.06 against 5.90 / 4.67 ms.

Installed by `Database` for `sqlite+aiosqlite` URLs (`engine_options`); it changes no contract:
the same rows, errors (sqlite3's, raised as before) and transactions. Server-side cursors keep
SQLAlchemy's own adapter; connecting and closing still go through aiosqlite's thread.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT


class _InlineCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement runs whole, here, on the event loop's thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(
        self, adapt_connection: Any
    ) -> None:  # no aiosqlite cursor: nothing runs on its thread
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass  # every row is fetched at once anyway

    async def _async_soft_close(self) -> None:
        return  # the statement closed its cursor already

    def close(self) -> None:
        self._rows.clear()

    # Still coroutines, awaited through SQLAlchemy's greenlet: its AsyncConnection insists that
    # a statement awaits something. They finish without waiting for anything.
    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._run(operation, seq_of_parameters, many=True)

    def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        raw: sqlite3.Connection = self._connection._conn
        cursor = raw.cursor()
        try:
            if many:
                cursor.executemany(operation, parameters)
            elif parameters is None:
                cursor.execute(operation)
            else:
                cursor.execute(operation, parameters)
            self._description = cursor.description
            self._rows = collections.deque(cursor.fetchall() if self._description else ())
            self._rowcount, self._lastrowid = cursor.rowcount, cursor.lastrowid
        finally:
            cursor.close()


class _InlineConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _InlineCursor

    # Commit and rollback here too: they end what the statements did on this thread.
    def commit(self) -> None:
        raw: sqlite3.Connection | None = self._connection._conn
        if raw is not None:
            raw.commit()

    def rollback(self) -> None:
        raw: sqlite3.Connection | None = self._connection._conn
        if raw is not None:
            raw.rollback()


class _InlineDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        # Made on aiosqlite's thread, used on the loop's.
        kw["check_same_thread"] = False
        adapted = super().connect(*arg, **kw)
        return _InlineConnection(self, adapted._connection)


def engine_options(url: str) -> dict[str, Any]:
    """Extra `create_async_engine` options for `url`: the inline driver for aiosqlite."""
    if url.startswith("sqlite+aiosqlite"):
        return {"module": _InlineDBAPI(aiosqlite, sqlite3)}
    return {}
