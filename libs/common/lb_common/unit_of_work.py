"""The unit of work a handler gets with its event: the only way a handler writes.

A handler is `async def handle(event: SomeEvent, uow: UnitOfWork, *, deps...) -> None`
(handlers.py routes the message to it). Through the unit of work it

- reads: `async with uow.session() as session: ...`;
- writes its effect, the messages it sends and the inbox row in one transaction:
  `async with uow.commit() as session: ...; uow.emit(SomeEvent(...)); uow.progress(...)`.
  The inbox row (this message's id, so a redelivery is a no-op) is written by `commit()`, always:
  a handler never decides whether to write it. `await uow.commit_sync(work)` is the same commit
  with the effect written by `work`, plain synchronous Core (`Database.write_sync`: no session;
  invoicing's booked outcome);
- writes a step that must be durable before a call to another system (an intent, a claim)
  with `async with uow.transaction() as session: ...`: no inbox row, so a crash or a retry
  after it runs the handler again and finds the step.

The steps one transaction puts on one order's timeline (`uow.progress`) travel as one
`order.progress` message, in the order they were reported, each with its own time (invoicing
drafts and books an invoice in one transaction: one message, not two). It takes the place of
the first step's message among the transaction's outgoing ones.

`commit()` is the end: after it nothing more can be written for this message. A handler that
has nothing to write just returns; the consumer then commits the inbox row on its own (the same
`commit()`). Emitted messages go to the outbox of the transaction that is open when they are
emitted, so they are published if and only if that transaction commits.

The metadata of the message (connection, order key, message id, ...) is `uow.message`.

A handler that writes only through `commit()` and calls no other system may be marked
`@batchable` (handlers.py): the consumer may then give several of its messages one transaction,
each with a `BatchedUnitOfWork` over it (messaging.py, "Batches"). Each message's effect, outbox
and inbox rows still commit together, and with the others'.

How the rows are written (a speed matter, not a contract): emitted messages and the inbox row
are kept as plain rows and written with two Core inserts (outbox, inbox) at the end of the
block, in its transaction, not as ORM objects (which cost a model instance, a flush and a
statement each). When the block wrote nothing through its session (customers' returning
buyer, a handler with nothing to write) and the store is a SQLite file, the two inserts run
under the write lock the block already holds, without the async session
(`Database.write_while_held`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, insert
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common import inbox
from lb_common.db import Database, session_touched
from lb_common.envelope import Envelope, Event
from lb_common.events import OrderProgress, ProgressStep
from lb_common.outbox import ADDED_FLAG, OutboxMessage, outbox_row

T = TypeVar("T")


class Sessions(Protocol):
    """Reads and intermediate writes: what `Database` and a unit of work both offer, so helpers
    shared by handlers and the admin API take either."""

    def session(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    async def read_sync(self, work: Callable[[Connection], T]) -> T:
        """Plain Core reads in one go (`Database.read_sync`): for the reads every message
        makes, cheaper than a session."""
        ...


@dataclass(frozen=True)
class Incoming:
    """What a handler knows about the message besides its event."""

    message_id: str
    type: str
    connection: str
    order_key: str | None
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None

    @classmethod
    def of(cls, envelope: Envelope) -> Incoming:
        return cls(
            message_id=envelope.message_id,
            type=envelope.type,
            connection=envelope.connection,
            order_key=envelope.order_key,
            occurred_at=envelope.occurred_at,
            correlation_id=envelope.correlation_id,
            causation_id=envelope.causation_id,
        )


class UnitOfWork(Sessions, Protocol):
    """What a handler gets besides its event (see the module docstring)."""

    @property
    def message(self) -> Incoming: ...

    def commit(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    async def commit_sync(self, work: Callable[[Connection], T]) -> T:
        """`commit()` with the effect written by `work`, plain synchronous Core that may
        `emit` and `progress` (`Database.write_sync`: no session)."""
        ...

    def emit(self, event: Event, *, order_key: str | None = None) -> None: ...

    def progress(
        self,
        step: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        order_key: str | None = None,
    ) -> None: ...


class MessageRows:
    """Outbox and inbox rows waiting for their transaction's end (see the module docstring)."""

    __slots__ = ("inbox", "outbox")

    def __init__(self) -> None:
        self.outbox: list[dict[str, Any]] = []
        self.inbox: list[dict[str, Any]] = []

    def __bool__(self) -> bool:
        return bool(self.outbox or self.inbox)

    def write(self, connection: Connection) -> None:
        """Both kinds in one statement each (plain Core, executemany)."""
        if self.outbox:
            connection.execute(insert(_OUTBOX), self.outbox)
        if self.inbox:
            connection.execute(insert(_INBOX), self.inbox)

    async def write_in(self, db: Database, session: AsyncSession) -> None:
        """Write them in `session`'s transaction (opened by `db.transaction()`), which commits
        them; on the loop's thread when the session wrote nothing yet."""
        if not self:
            return
        if self.outbox:
            session.info[ADDED_FLAG] = True  # wakes the relay after the commit
        if not session_touched(session) and db.write_while_held(self.write):
            return
        # In the session's transaction; what the handler added is flushed at its commit.
        connection = await session.connection()
        await connection.run_sync(self.write)


class _Progress:
    """One order's `order.progress` in an open transaction: its first step's envelope, the
    steps reported after it, and its place among the transaction's outgoing rows."""

    __slots__ = ("envelope", "more", "slot")

    def __init__(self, envelope: Envelope, slot: int) -> None:
        self.envelope = envelope
        self.slot = slot
        self.more: list[ProgressStep] = []

    def row(self) -> dict[str, Any]:
        envelope = self.envelope
        if self.more:
            payload = {
                **envelope.payload,
                "more": [step.model_dump(mode="json") for step in self.more],
            }
            envelope = envelope.model_copy(update={"payload": payload})
        return outbox_row(envelope)


_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_INBOX = inbox.InboxEntry.__table__  # type: ignore[attr-defined]


class DatabaseUnitOfWork:
    """The unit of work over the service's database, for one message."""

    def __init__(self, db: Database, consumer: str, envelope: Envelope) -> None:
        self._db = db
        self._consumer = consumer
        self._envelope = envelope
        self.message = Incoming.of(envelope)
        self._open: AsyncSession | None = None
        self._rows: MessageRows | None = None
        self._progress: dict[str | None, _Progress] = {}
        self.committed = False

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self._db.session()

    async def read_sync(self, work: Callable[[Connection], T]) -> T:
        return await self._db.read_sync(work)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._writing(handled=False) as session:
            yield session

    @contextlib.asynccontextmanager
    async def commit(self) -> AsyncIterator[AsyncSession]:
        async with self._writing(handled=True) as session:
            yield session
        self.committed = True

    async def commit_sync(self, work: Callable[[Connection], T]) -> T:
        # The effect, the outbox rows `work` emits and the inbox row in one `write_sync`
        # transaction: on a SQLite file all of it on the loop's thread, with no session.
        self._check_can_write()
        rows = MessageRows()

        def effect(connection: Connection) -> T:
            self._rows, self._progress = rows, {}
            try:
                result = work(connection)
                self._progress_rows(rows)
            finally:
                self._rows = None
                self._progress = {}
            rows.inbox.append(inbox.entry(self._consumer, self.message.message_id))
            if rows.outbox:
                connection.info[ADDED_FLAG] = True  # wakes the relay after the commit
            rows.write(connection)
            return result

        result = await self._db.write_sync(effect)
        self.committed = True
        return result

    async def finish(self) -> None:
        """The consumer's last word: the inbox row alone when the handler committed nothing."""
        if not self.committed:
            async with self.commit():
                pass

    def emit(self, event: Event, *, order_key: str | None = None) -> None:
        """Send `event` (to the outbox of the open transaction), caused by this message."""
        self._rows_for("emit").outbox.append(
            outbox_row(
                Envelope.wrap(
                    event,
                    connection=self.message.connection,
                    order_key=order_key or self.message.order_key,
                    caused_by=self._envelope,
                )
            )
        )

    def progress(
        self,
        step: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        order_key: str | None = None,
    ) -> None:
        """Put one step on the order's timeline (an `order.progress` to ingest), with the effect:
        the transaction's steps for one order go as one message (see the module docstring)."""
        rows = self._rows_for("progress")
        key = order_key or self.message.order_key
        earlier = self._progress.get(key)
        if earlier is not None:
            earlier.more.append(
                ProgressStep(
                    step=step, message=message, details=details or {}, at=datetime.now(UTC)
                )
            )
            return
        envelope = Envelope.wrap(
            OrderProgress(
                service=self._consumer, step=step, message=message, details=details or {}
            ),
            connection=self.message.connection,
            order_key=key,
            caused_by=self._envelope,
        )
        # Its row is made at the block's end, when every step is known; its place is kept.
        self._progress[key] = _Progress(envelope, len(rows.outbox))
        rows.outbox.append({})

    def _progress_rows(self, rows: MessageRows) -> None:
        """The transaction's `order.progress` rows, each in the place kept for it."""
        for progress in self._progress.values():
            rows.outbox[progress.slot] = progress.row()

    @contextlib.asynccontextmanager
    async def _writing(self, *, handled: bool) -> AsyncIterator[AsyncSession]:
        self._check_can_write()
        rows = MessageRows()
        async with self._db.transaction() as session:
            self._open, self._rows, self._progress = session, rows, {}
            try:
                yield session
                self._progress_rows(rows)
            finally:
                self._open = self._rows = None
                self._progress = {}
            if handled:
                rows.inbox.append(inbox.entry(self._consumer, self.message.message_id))
            await rows.write_in(self._db, session)

    def _check_can_write(self) -> None:
        if self.committed:
            raise RuntimeError(
                f"{self.message.type} {self.message.message_id} is already committed as "
                "handled: write everything in that one commit"
            )
        if self._open is not None:
            raise RuntimeError("a unit of work opens one transaction at a time")

    def _rows_for(self, what: str) -> MessageRows:
        if self._rows is None:
            raise RuntimeError(
                f"{what} inside `async with uow.commit()` (or `uow.transaction()`): a message is "
                "sent only with the transaction that causes it"
            )
        return self._rows


class NotBatchable(RuntimeError):
    """A handler marked `@batchable` asked for what a batch cannot give (`uow.transaction()`):
    the consumer handles the batch's messages one at a time instead."""


class BatchedUnitOfWork(DatabaseUnitOfWork):
    """The unit of work of one message in a batch: its `commit()` writes into the batch's one
    transaction (`session`, opened and committed by the consumer), inbox row included."""

    def __init__(
        self,
        session: AsyncSession,
        consumer: str,
        envelope: Envelope,
        rows: MessageRows | None = None,
    ) -> None:
        """`rows`: the batch's, written by the consumer before it commits the batch; None:
        this message's own, written at the end of its `commit()` block."""
        self._batch = session
        self._consumer = consumer
        self._envelope = envelope
        self.message = Incoming.of(envelope)
        self._open = None
        self._batch_rows = rows
        self._rows = None
        self._progress = {}
        self.committed = False

    @contextlib.asynccontextmanager
    async def _batch_session(self) -> AsyncIterator[AsyncSession]:
        yield self._batch

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        # The batch's own: it sees what earlier messages of the batch wrote.
        return self._batch_session()

    async def read_sync(self, work: Callable[[Connection], T]) -> T:
        # In the batch's transaction too, for the same reason.
        connection = await self._batch.connection()
        return await connection.run_sync(work)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        # A step made durable before calling another system cannot wait for the batch's commit.
        raise NotBatchable(
            f"{self.message.type}'s handler is marked batchable but opens a transaction of its "
            "own: only `uow.commit()` can join a batch"
        )
        yield self._batch  # never reached; makes this a context manager like the one it replaces

    async def commit_sync(self, work: Callable[[Connection], T]) -> T:
        # In the batch's transaction, like `commit()`.
        async with self.commit() as session:
            connection = await session.connection()
            return await connection.run_sync(work)

    async def finish(self) -> None:
        """The inbox row alone when the handler committed nothing."""
        if not self.committed:
            async with self.commit():
                pass

    @contextlib.asynccontextmanager
    async def _writing(self, *, handled: bool) -> AsyncIterator[AsyncSession]:
        # commit() (inherited) adds the inbox row here; the consumer commits the batch.
        self._check_can_write()
        rows = self._batch_rows if self._batch_rows is not None else MessageRows()
        self._open, self._rows, self._progress = self._batch, rows, {}
        try:
            yield self._batch
            self._progress_rows(rows)
        finally:
            self._open = self._rows = None
            self._progress = {}
        if handled:
            rows.inbox.append(inbox.entry(self._consumer, self.message.message_id))
        if self._batch_rows is None and rows:
            self._batch.info[ADDED_FLAG] = True
            connection = await self._batch.connection()
            await connection.run_sync(rows.write)
