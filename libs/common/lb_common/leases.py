"""Leases: a named claim that one holder has until it expires, shared by every replica of a
service through its database (table `leases`).

Every change is one conditional statement (compare-and-set), never a read followed by a write,
so two replicas racing for a lease cannot both get it:

- `acquire(db, name, holder, ttl)`: take the lease if nobody holds it, its holder's time is up,
  or `holder` already has it (then it is extended). True if `holder` now holds it.
- `renew(db, name, holder, ttl)`: extend it, only if `holder` still holds it.
- `release(db, name, holder)`: give it up, only if `holder` holds it.

A holder that dies stops renewing; a live replica takes the lease over once it expires, i.e.
within `ttl` seconds. Pick `ttl` well above how long a renewal can take (a few seconds) and well
below how long a successor may wait.

Clocks: on PostgreSQL the expiry is set and compared by the database's clock, so replicas on
hosts whose clocks disagree still agree on it. On SQLite every replica shares one host's clock.

`run_holding` runs one piece of work under a lease (renewed in the background, the work
cancelled if the lease cannot be renewed in time), `run_in_transactions` does the same with the
lease taken and given back inside the work's own first and last transactions (no write of its
own when the work goes well), `holding` does the same for the body of an
`async with` (customers' creation claims, inventory's per-connection sync and push), and `lead`
keeps a long-running job on one replica at a time (the periodic jobs: `lb_ingest.reconcile`,
inventory's stock sync).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Executable,
    Interval,
    String,
    bindparam,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.db import Database, UTCDateTime, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")


class Lease(SQLModel, table=True):
    __tablename__ = "leases"

    name: str = Field(sa_column=Column(String, primary_key=True))
    holder: str = Field(sa_column=Column(String, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


_leases = Lease.__table__  # type: ignore[attr-defined]


def new_holder(service: str) -> str:
    """A holder name unique to this process and call, readable in the table: who holds what."""
    return f"{service}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _now(db: Database | bool) -> ColumnElement[Any]:
    """`db`: the database, or whether it is SQLite."""
    is_sqlite = db if isinstance(db, bool) else db.is_sqlite
    return literal(utcnow(), UTCDateTime) if is_sqlite else func.now()


# Each change is one statement, run in a `Database.write_sync` transaction of its own (plain
# Core, no async adapter) or inside the caller's transaction (`run_in_transactions`).
def _changed(connection: Connection, *, statement: Executable) -> bool:
    return bool(connection.execute(statement).rowcount)


# The statements every lease change runs are built once, their values bound at each run:
# building one (and SQLAlchemy's cache key for it) cost more than running it. On SQLite the
# times are ours (`now`, `until`: bound); on PostgreSQL the database's clock plus `ttl`.
# (Not named as columns: an update reserves those names for its SET clause.)
_NAME, _HOLDER = bindparam("b_name", type_=String), bindparam("b_holder", type_=String)


def _times(is_sqlite: bool) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """(now, until) as the statements compare and set them."""
    if is_sqlite:
        return bindparam("b_now", type_=UTCDateTime), bindparam("b_until", type_=UTCDateTime)
    return func.now(), func.now() + bindparam("b_ttl", type_=Interval)


@functools.cache
def _acquire_statement(is_sqlite: bool) -> Executable:
    dialect = sqlite if is_sqlite else postgresql
    now, until = _times(is_sqlite)
    statement = dialect.insert(_leases).values(name=_NAME, holder=_HOLDER, expires_at=until)
    return statement.on_conflict_do_update(
        index_elements=[_leases.c.name],
        set_={"holder": _HOLDER, "expires_at": until},
        # The compare of compare-and-set: only a free lease, or our own, changes hands.
        where=(_leases.c.holder == _HOLDER) | (_leases.c.expires_at <= now),
    ).returning(_leases.c.holder)


@functools.cache
def _renew_statement(is_sqlite: bool) -> Executable:
    _, until = _times(is_sqlite)
    return (
        update(_leases)
        .where(_leases.c.name == _NAME, _leases.c.holder == _HOLDER)
        .values(expires_at=until)
    )


_RELEASE = delete(_leases).where(_leases.c.name == _NAME, _leases.c.holder == _HOLDER)


def _values(is_sqlite: bool, name: str, holder: str, ttl: float) -> dict[str, Any]:
    """The bound values of `_acquire_statement` and `_renew_statement`."""
    if is_sqlite:
        now = utcnow()
        until = now + timedelta(seconds=ttl)
        return {"b_name": name, "b_holder": holder, "b_now": now, "b_until": until}
    return {"b_name": name, "b_holder": holder, "b_ttl": timedelta(seconds=ttl)}


def _acquired(connection: Connection, name: str, holder: str, ttl: float) -> bool:
    """Take (or extend) the lease in `connection`'s write transaction; whether `holder` has it."""
    is_sqlite = connection.dialect.name == "sqlite"
    statement = _acquire_statement(is_sqlite)
    return connection.execute(statement, _values(is_sqlite, name, holder, ttl)).first() is not None


def _released(connection: Connection, name: str, holder: str) -> bool:
    return bool(connection.execute(_RELEASE, {"b_name": name, "b_holder": holder}).rowcount)


async def acquire(db: Database, name: str, holder: str, ttl: float) -> bool:
    """Take (or extend) the lease `name` for `ttl` seconds. True if `holder` holds it now."""
    return await db.write_sync(functools.partial(_acquired, name=name, holder=holder, ttl=ttl))


async def renew(db: Database, name: str, holder: str, ttl: float) -> bool:
    """Extend the lease by `ttl` seconds from now, if `holder` still holds it."""
    statement, values = _renew_statement(db.is_sqlite), _values(db.is_sqlite, name, holder, ttl)
    return await db.write_sync(
        lambda connection: bool(connection.execute(statement, values).rowcount)
    )


async def release(db: Database, name: str, holder: str) -> bool:
    """Give the lease up (a successor need not wait for it to expire), if `holder` holds it."""
    return await db.write_sync(functools.partial(_released, name=name, holder=holder))


ABANDONED = "(abandoned)"


async def abandon(db: Database, name: str, holder: str) -> bool:
    """Give the lease up as a holder that stopped before finishing: free at once, but the row
    stays behind (see `expired`) so the next holder knows to check what was left half-done."""
    statement = (
        update(_leases)
        .where(_leases.c.name == name, _leases.c.holder == holder)
        .values(holder=ABANDONED, expires_at=_now(db))
    )
    return await db.write_sync(functools.partial(_changed, statement=statement))


async def expired(db: Database, name: str) -> bool:
    """Whether `name` was left by a holder that stopped before releasing it (died, or gave it
    up with `abandon`): a released lease leaves no row."""
    statement = select(_leases.c.holder).where(
        _leases.c.name == name, _leases.c.expires_at <= _now(db)
    )
    row = await db.read_sync(lambda connection: connection.execute(statement).first())
    return row is not None


async def holder_of(db: Database, name: str) -> str | None:
    """Who holds `name` now (None if nobody, or the holder's time is up)."""
    statement = select(_leases.c.holder).where(
        _leases.c.name == name, _leases.c.expires_at > _now(db)
    )
    row = await db.read_sync(lambda connection: connection.execute(statement).first())
    return None if row is None else str(row.holder)


class LeaseLost(Exception):
    """The lease could not be renewed before it ran out: the work under it was stopped."""


class LeaseBusy(Exception):
    """Another holder has the lease (and kept it for as long as we were willing to wait)."""


async def run_holding(
    db: Database,
    name: str,
    holder: str,
    work: Callable[[], Awaitable[T]],
    *,
    ttl: float = 15.0,
) -> tuple[bool, T | None]:
    """Run `work` if `holder` gets the lease `name`; returns (ran, its result).

    The lease is renewed every ttl/3 while the work runs and released when it ends. If it has
    not been renewed for 2/3 of `ttl` (database unreachable, or taken over), the work is
    cancelled and `LeaseLost` raised: before the lease can expire, so that a successor never
    works alongside it.
    """
    if not await acquire(db, name, holder, ttl):
        return False, None
    task = asyncio.ensure_future(work())
    try:
        await _keep(db, name, holder, ttl, task)
        return True, task.result()
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            await release(db, name, holder)


class LeaseInTransactions:
    """A lease taken in the work's first write transaction (`take`) and given back in its last
    (`giving_back`): no transaction of its own for either when the work goes well, where
    `run_holding` writes three (take, work, release: a booked invoice's intent and outcome in
    between make it four or five). The same compare-and-set statements, in the caller's
    transaction: the lease and what the transaction writes commit together, or neither does.

    Until the transaction that took it commits, other holders wait for it (SQLite: one writer at
    a time; PostgreSQL: the row's lock) and then see the lease taken, with whatever that
    transaction wrote; given back in the transaction that records the outcome, the next holder
    sees the outcome."""

    def __init__(self, name: str, holder: str, ttl: float) -> None:
        self.name, self.holder, self.ttl = name, holder, ttl
        self._taken_at: float | None = None  # time.monotonic() when taken
        self._giving_back = False
        self.given_back = False

    @property
    def taken(self) -> bool:
        """Taken in a transaction (that may not have committed: then giving it back is a no-op)."""
        return self._taken_at is not None

    def held_since(self) -> float | None:
        """When it was taken, while it is to be renewed (taken, not being given back)."""
        return None if self._giving_back else self._taken_at

    def take(self, connection: Connection) -> None:
        """Take it in `connection`'s open write transaction (plain Core: `Database.write_sync`
        work, or a session's through `run_sync`); `LeaseBusy` if another holder has it (raised
        in the transaction: it rolls back). May run on a thread of its own."""
        if not _acquired(connection, self.name, self.holder, self.ttl):
            raise LeaseBusy(f"lease {self.name!r} is held by another holder")
        self._taken_at = time.monotonic()

    @contextlib.asynccontextmanager
    async def giving_back(
        self, transaction: AbstractAsyncContextManager[AsyncSession]
    ) -> AsyncIterator[AsyncSession]:
        """`transaction` (the work's last), with the lease given back in it when its body ends
        without error. Not renewed from then on: the work ends with this transaction."""
        async with transaction as session:
            yield session
            if self._taken_at is not None:
                self._giving_back = True
                connection = await session.connection()
                await connection.execute(_RELEASE, {"b_name": self.name, "b_holder": self.holder})
        if self._taken_at is not None:
            self.given_back = True

    async def given_back_in(
        self,
        commit: Callable[[Callable[[Connection], T]], Awaitable[T]],
        work: Callable[[Connection], T],
    ) -> T:
        """`giving_back` for a last transaction in plain Core: `commit(work)` (e.g.
        `uow.commit_sync`), the lease given back in it when `work` ends without error."""

        def last(connection: Connection) -> T:
            result = work(connection)
            if self._taken_at is not None:
                self._giving_back = True
                _released(connection, self.name, self.holder)
            return result

        result = await commit(last)
        if self._taken_at is not None:
            self.given_back = True
        return result


async def run_in_transactions(
    db: Database,
    name: str,
    holder: str,
    work: Callable[[LeaseInTransactions], Awaitable[T]],
    *,
    ttl: float = 15.0,
) -> T:
    """Run `work`, which takes the lease in its first transaction and gives it back in its last
    (`LeaseInTransactions`; `LeaseBusy` from `take` goes up as it is). Renewed every ttl/3 once
    taken, the work cancelled and `LeaseLost` raised if it slips, as in `run_holding`. A work
    that ends without giving it back (an error, a path with no last transaction) has it
    released here, in a write of its own."""
    lease = LeaseInTransactions(name, holder, ttl)
    task = asyncio.ensure_future(work(lease))
    try:
        await _keep(db, name, holder, ttl, task, held_since=lease.held_since)
        return task.result()
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if lease.taken and not lease.given_back:
            with contextlib.suppress(Exception):
                await release(db, name, holder)


@contextlib.asynccontextmanager
async def holding(
    db: Database, name: str, holder: str, *, ttl: float = 15.0, wait: float = 0.0
) -> AsyncIterator[None]:
    """Hold the lease `name` for the body of `async with`, like `run_holding`: renewed every
    ttl/3, released when the body ends however it ends; if it slips (not renewed for 2/3 of
    `ttl`, or taken over) the body is cancelled and `LeaseLost` raised.

    Held by someone else: tried again every few hundred milliseconds for up to `wait` seconds,
    then `LeaseBusy`. Use a `holder` of its own per use (`new_holder`): one holder taking the
    same lease twice would just extend it."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + wait
    while not await acquire(db, name, holder, ttl):
        if loop.time() >= give_up:
            raise LeaseBusy(f"lease {name!r} is held by another holder")
        await asyncio.sleep(min(0.5, ttl / 10) * random.uniform(0.5, 1.0))
    body = asyncio.current_task()
    assert body is not None
    lost = False

    def stop_the_body() -> None:
        nonlocal lost
        lost = True
        body.cancel()

    keeper = asyncio.ensure_future(_renew_while_held(db, name, holder, ttl, stop_the_body))
    stopped: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        if not lost:
            raise
        stopped = exc  # what our cancellation turned into in the body
    finally:
        keeper.cancel()  # from here on it cannot cancel the body
        try:
            await release(db, name, holder)
        except asyncio.CancelledError:
            if not lost:  # from outside: it goes on
                raise
        except Exception:
            log.warning("releasing lease %s failed; it expires by itself", name, exc_info=True)
    if not lost:
        return
    # Our cancellation becomes LeaseLost; one from outside as well goes on as it came.
    if body.uncancel() > 0:
        raise asyncio.CancelledError
    raise LeaseLost(f"lease {name!r} was lost by {holder}") from stopped


async def _renew_while_held(
    db: Database, name: str, holder: str, ttl: float, on_lost: Callable[[], None]
) -> None:
    loop = asyncio.get_running_loop()
    renewed = loop.time()
    while True:
        await asyncio.sleep(ttl / 3)
        sent = loop.time()
        try:
            # A renewal stuck on the database counts as failed before the lease can run out.
            still = await asyncio.wait_for(renew(db, name, holder, ttl), timeout=ttl / 3)
        except Exception:
            log.warning("renewing lease %s failed", name, exc_info=True)
            still = None
        if still:
            renewed = sent
        elif still is False or loop.time() - renewed > ttl * 2 / 3:
            on_lost()
            return


async def _keep(
    db: Database,
    name: str,
    holder: str,
    ttl: float,
    task: asyncio.Future[Any],
    *,
    held_since: Callable[[], float | None] | None = None,
) -> None:
    """Renew the lease until `task` ends; cancel it if the lease slips. `held_since`: when the
    work took the lease itself (`time.monotonic()`; None while it does not hold it: nothing to
    renew); without it the lease was taken just now."""
    renewed = time.monotonic()  # when the last successful renewal was sent
    while True:
        done, _ = await asyncio.wait({task}, timeout=ttl / 3)
        if done:
            return
        if held_since is not None:
            taken = held_since()
            if taken is None:
                continue
            renewed = max(renewed, taken)
        sent = time.monotonic()
        try:
            still = await renew(db, name, holder, ttl)
        except Exception:
            log.warning("renewing lease %s failed", name, exc_info=True)
            still = None
        if still:
            renewed = sent
        elif still is False or time.monotonic() - renewed > ttl * 2 / 3:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise LeaseLost(f"lease {name!r} was lost by {holder}")


Job = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


async def lead(
    stop: asyncio.Event,
    db: Database,
    name: str,
    holder: str,
    job: Job,
    *,
    ttl: float = 15.0,
) -> None:
    """Run `job` on one replica at a time: whoever holds the lease `name` runs it, the others
    try to take it over every ttl/3 (jittered, so replicas do not knock in step). A successor
    starts within `ttl` of the leader's death. For periodic jobs: `job(stop)` loops until `stop`
    is set; it is cancelled if this replica loses the lease."""
    while not stop.is_set():
        try:
            await run_holding(db, name, holder, lambda: job(stop), ttl=ttl)
        except LeaseLost:
            log.warning("lost the lead of %s; another replica takes over", name)
        except Exception:  # the job or the database failed: try again, do not die
            log.exception("%s failed", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=ttl / 3 * random.uniform(0.5, 1.5))


def on_one_replica(
    db: Database, name: str, service: str, job: Job
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """`job` as a background job that `lead` runs on one replica of `service` at a time."""
    return functools.partial(lead, db=db, name=name, holder=new_holder(service), job=job)
