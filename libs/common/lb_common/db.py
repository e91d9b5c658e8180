"""Database helpers: one async engine per service; SQLite in WAL mode by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic_core import to_json
from sqlalchemy import Connection, DateTime, Engine, create_engine, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session as SQLModelSession
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.speedups import sqlite_utc_text
from lb_common.sqlite_inline import engine_options
from lb_common.write_lock import SQLiteWriteLock


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always returns timezone-aware UTC (SQLite would otherwise drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return sqlite_utc_text  # the same text in one step (speedups.py)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


T = TypeVar("T")
G = TypeVar("G")
#: What `Database.on_commit` listeners get: the committed session's or connection's `info`.
CommitInfo = dict[Any, Any]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # We issue BEGIN ourselves (below), so the driver must not start transactions on its own.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Checkpoints run on the checkpointer thread (below), not inside a commit, where they
    # tripled the commit's time and, at 20,000 pages, stalled every writer for 120-370 ms under
    # load. This bound (about 400 MB of WAL) is only a safety net for when the thread lags.
    cursor.execute(f"PRAGMA wal_autocheckpoint={_WAL_SAFETY_PAGES}")
    cursor.close()


_WAL_SAFETY_PAGES = 100_000


def _to_json(value: Any) -> str:
    # pydantic-core's serializer: about ten times faster than json.dumps on order-sized documents.
    return to_json(value).decode()


class _Checkpointer(threading.Thread):
    """Copies the WAL into the database file every `interval` seconds (PASSIVE: it never
    blocks readers or writers), so that commits on the request path stay short."""

    def __init__(self, path: str, interval: float = 1.0) -> None:
        super().__init__(name="sqlite-checkpointer", daemon=True)
        self._path = path
        self._interval = interval
        self._stop = threading.Event()

    def run(self) -> None:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self._interval):
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()


class _TrackedSession(SQLModelSession):
    """The sessions' sync side: notes in `info` when a transaction took a connection, so
    `session_touched` can tell a write block that never touched the database."""


_TOUCHED = "lb_touched"


@event.listens_for(_TrackedSession, "after_begin")
def _note_begun(session: Session, _transaction: SessionTransaction, _connection: Any) -> None:
    session.info[_TOUCHED] = True


def gathered_until_commit(
    session: AsyncSession,
    key: str,
    start: Callable[[], G],
    write: Callable[[Session, G], None],
) -> G:
    """What this transaction has gathered under `key` (made by `start` on first use), written
    by `write(session, gathered)` once, just before the session commits: many small changes
    made as one statement (ingest's timeline reports, inventory's held totals). The session
    counts as touched from then on, so the unit of work writes its outbox and inbox rows in the
    same transaction (unit_of_work.py), not in one of their own before these."""
    info = session.sync_session.info
    gathered: G | None = info.get(key)
    if gathered is None:
        gathered = info[key] = start()
        info[_TOUCHED] = True

        def write_gathered(sync: Session) -> None:
            write(sync, sync.info.pop(key))

        event.listen(session.sync_session, "before_commit", write_gathered, once=True)
    return gathered


def session_touched(session: AsyncSession) -> bool:
    """Whether `session` used the database or holds changes not yet flushed (unit_of_work.py:
    an untouched write block's rows can be written without it)."""
    sync = session.sync_session
    return bool(sync.info.get(_TOUCHED) or sync.new or sync.dirty or sync.deleted)


def _sqlite_begin(conn: Any) -> None:
    # Write transactions take the lock up front: a deferred read-then-write transaction in WAL
    # mode fails with SQLITE_BUSY when another writer committed in between, and busy_timeout
    # cannot help. Read-only sessions begin deferred and never block writers.
    immediate = conn.get_execution_options().get("lb_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _drop_closed(_dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    """A pooled connection whose socket the server closed (a restart, pg_terminate_backend)
    is replaced at checkout, with no round trip: asyncpg knows it is closed once the loop has
    seen the socket end. One dropped later still fails its statement: SQLAlchemy then sees a
    disconnect and renews the whole pool, the message is retried as any failed one, and an
    admin call answers 503 (admin.py)."""
    is_closed = getattr(record.driver_connection, "is_closed", None)
    if is_closed is not None and is_closed():
        raise DisconnectionError("the server closed this connection")  # the pool reconnects


class Database:
    """Engine + sessions. `transaction()` commits on success and tells listeners after commit."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        path = url.split("///", 1)[-1] if self.is_sqlite else ""
        file = path if path and path != ":memory:" else None  # a SQLite file
        if file is not None:
            Path(file).parent.mkdir(parents=True, exist_ok=True)
        # No pool_pre_ping: on asyncpg it is three round trips (BEGIN, `;`, ROLLBACK) before
        # every transaction, a third of a message's. `_drop_closed` asks the driver instead.
        self.engine: AsyncEngine = create_async_engine(
            url,
            json_serializer=_to_json,
            **engine_options(url),
        )
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        else:
            event.listen(self.engine.sync_engine.pool, "checkout", _drop_closed)
        self._sessions = async_sessionmaker(
            self.engine,
            class_=AsyncSession,
            sync_session_class=_TrackedSession,
            expire_on_commit=False,
        )
        self._write_engine = self.engine.execution_options(lb_write=True)
        # read_sync on PostgreSQL: each statement in autocommit, without BEGIN and ROLLBACK
        # around it. Under READ COMMITTED (PostgreSQL's default) every statement of a
        # transaction takes a snapshot of its own anyway, so the reads see the same rows;
        # `_reads_alone` checks the server's default once connected.
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._write_lock = SQLiteWriteLock(file) if self.is_sqlite else None
        self._after_commit: list[Callable[[CommitInfo], None]] = []
        # On a SQLite file, write_sync and read_sync run plain synchronous Core on this engine,
        # right on the loop's thread (sqlite_inline.py says why that is safe).
        self._sync_engine: Engine | None = None
        self._checkpointer: _Checkpointer | None = None
        if file is not None:
            self._sync_engine = create_engine(f"sqlite:///{file}", json_serializer=_to_json)
            event.listen(self._sync_engine, "connect", _sqlite_pragmas)
            event.listen(self._sync_engine, "begin", _sqlite_begin)
            self._sync_write_engine = self._sync_engine.execution_options(lb_write=True)
            self._checkpointer = _Checkpointer(file)
            self._checkpointer.start()

    def on_commit(self, callback: Callable[[CommitInfo], None]) -> None:
        self._after_commit.append(callback)

    def _committed(self, info: CommitInfo) -> None:
        for callback in self._after_commit:
            callback(info)

    async def create_tables(self, models: Sequence[type[SQLModel]]) -> None:
        tables = [m.__table__ for m in models]  # type: ignore[attr-defined]
        async with self.engine.begin() as conn:
            await conn.run_sync(lambda c: SQLModel.metadata.create_all(c, tables=tables))

    @contextlib.asynccontextmanager
    async def write_connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction (SQLite: queued, `BEGIN IMMEDIATE`); commits
        when the block ends without error, then runs on_commit listeners. For Core statements
        (leases, schema changes)."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock.held())
            connection = await stack.enter_async_context(self._write_engine.begin())
            yield connection
            info = connection.sync_connection.info if connection.sync_connection else {}
        self._committed(info)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """For reads. Keep it short: never hold one open across a call to another system."""
        async with self._sessions() as session:
            yield session

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """For writes: commits when the block ends without error, then runs on_commit listeners."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock.held())
            session = await stack.enter_async_context(self._sessions(bind=self._write_engine))
            async with session.begin():
                yield session
        self._committed(session.info)

    async def write_sync(self, work: Callable[[Connection], T]) -> T:
        """Run `work` (plain, synchronous Core code) in one write transaction and commit.

        For the hot write paths: on a SQLite file the whole transaction runs here, on the
        loop's thread, once this process holds the write lock (no statement waits then), with
        no async adapter between the statements and SQLite. Elsewhere it runs through the
        async engine as usual."""
        if self._sync_engine is None:
            async with self._write_engine.begin() as connection:
                result = await connection.run_sync(work)
                info = connection.sync_connection.info if connection.sync_connection else {}
            self._committed(info)
            return result
        assert self._write_lock is not None
        async with self._write_lock.held():
            with self._sync_write_engine.begin() as connection:
                result = work(connection)
                info = connection.info
        self._committed(info)
        return result

    def write_while_held(self, work: Callable[[Connection], None]) -> bool:
        """Inside `transaction()`, whose session has not touched the database: run `work` in
        a write transaction of its own right here and commit it; False (nothing run) where
        that is not possible (not a SQLite file). The block holds the write lock, so nothing
        waits here: the transaction is small writes (an outbox and an inbox insert), well
        under a millisecond. The rows commit before the session's (empty) transaction ends; a
        failure in `work` rolls them back and propagates, so the block fails as a whole either
        way."""
        if self._sync_engine is None:
            return False
        assert self._write_lock is not None and self._write_lock.held_here()
        with self._sync_write_engine.begin() as connection:
            work(connection)
        return True

    async def read_sync(self, work: Callable[[Connection], T]) -> T:
        """Run `work` (plain, synchronous Core reads, a few milliseconds at most) in one read
        transaction. For the reads every message makes (the inbox look-up, leases): on a SQLite
        file it runs here, on the loop's thread (reads in WAL mode never wait for a writer),
        without the async adapter. Elsewhere through the async engine."""
        if self._sync_engine is None:
            engine = self._autocommit_engine if self._reads_alone() else self.engine
            async with engine.connect() as connection:
                return await connection.run_sync(work)
        await asyncio.sleep(0)  # as every write does (write_lock.py): the loop's other work first
        with self._sync_engine.connect() as connection:
            return work(connection)

    def _reads_alone(self) -> bool:
        """Whether reads may run a statement at a time: on PostgreSQL at READ COMMITTED (known
        once a connection was made; until then, in a transaction as elsewhere)."""
        dialect = self.engine.dialect
        return (
            dialect.name == "postgresql"
            and getattr(dialect, "default_isolation_level", None) == "READ COMMITTED"
        )

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._sync_engine is not None:
            self._sync_engine.dispose()
        if self._write_lock is not None:
            self._write_lock.close()
        if self._checkpointer is not None:
            self._checkpointer.stop()
