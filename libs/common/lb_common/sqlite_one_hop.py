"""Speed trick: each SQLite statement in one hop to aiosqlite's thread instead of three or four.

SQLAlchemy's aiosqlite adapter runs a statement as separate calls to the connection's thread:
make a cursor, execute, fetch the rows (a query), close the cursor. Each call is a hand-over
between the event loop and that thread (a future, a queue, a wake-up, a call back into the
loop, and the GIL passed to and fro), and that hand-over, not SQLite, was the largest single
cost of every service's message handling: `Connection._execute` was 39-48 % of the busy samples
of customers, invoicing, inventory and ingest under bench/e2e.py (py-spy --gil). Here the whole
statement runs in one function on the thread and hands back its description, rows, row count
and last row id together. Measured with bench/e2e.py --orders 150 --rate 4 on the shared 2-core
machine, one run each, main then this (with leases in one hand-over too): service CPU per order
flat out 114.5 -> 103.6 ms; a read session plus a one-row write transaction 3.61 / 3.05 ->
3.23 / 2.22 ms of CPU (a throwaway loop, two runs each).

Installed by `Database` for `sqlite+aiosqlite` URLs (`engine_options`); it changes no contract:
the same rows, errors (sqlite3's, raised as before) and transactions. Server-side cursors keep
SQLAlchemy's own adapter.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT


class _OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement runs whole on the connection's thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:  # no aiosqlite cursor: nothing to hop for
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
        return  # the thread closed its cursor already

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(operation, seq_of_parameters, many=True)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]

        def statement() -> tuple[Any, Sequence[Any], int, int | None]:
            raw: sqlite3.Connection = connection._conn
            cursor = raw.cursor()
            try:
                if many:
                    cursor.executemany(operation, parameters)
                elif parameters is None:
                    cursor.execute(operation)
                else:
                    cursor.execute(operation, parameters)
                description = cursor.description
                rows = cursor.fetchall() if description else ()
                return description, rows, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        async with self._adapt_connection._execute_mutex:
            found = await connection._execute(statement)
        self._description, rows, self._rowcount, self._lastrowid = found
        self._rows = collections.deque(rows)


class _OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _OneHopCursor


class _OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return _OneHopConnection(self, adapted._connection)


def engine_options(url: str) -> dict[str, Any]:
    """Extra `create_async_engine` options for `url`: the one-hop driver for aiosqlite."""
    if url.startswith("sqlite+aiosqlite"):
        return {"module": _OneHopDBAPI(aiosqlite, sqlite3)}
    return {}
