"""The unit of work a handler gets with its event: the only way a handler writes.

A handler is `async def handle(event: SomeEvent, uow: UnitOfWork, *, deps...) -> None`
(handlers.py routes the message to it). Through the unit of work it

- reads: `async with uow.session() as session: ...`;
- writes its effect, the messages it sends and the inbox row in one transaction:
  `async with uow.commit() as session: ...; uow.emit(SomeEvent(...)); uow.progress(...)`.
  The inbox row (this message's id, so a redelivery is a no-op) is written by `commit()`, always:
  a handler never decides whether to write it;
- writes a step that must be durable before a call to another system (an intent, a claim)
  with `async with uow.transaction() as session: ...`: no inbox row, so a crash or a retry
  after it runs the handler again and finds the step.

`commit()` is the end: after it nothing more can be written for this message. A handler that
has nothing to write just returns; the consumer then commits the inbox row on its own (the same
`commit()`). Emitted messages go to the outbox of the transaction that is open when they are
emitted, so they are published if and only if that transaction commits.

The metadata of the message (connection, order key, message id, ...) is `uow.message`.

A handler that writes only through `commit()` and calls no other system may be marked
`@batchable` (handlers.py): the consumer may then give several of its messages one transaction,
each with a `BatchedUnitOfWork` over it (messaging.py, "Batches"). Each message's effect, outbox
and inbox rows still commit together, and with the others'.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common import inbox
from lb_common.db import Database
from lb_common.envelope import Envelope, Event
from lb_common.events import OrderProgress
from lb_common.outbox import add_to_outbox


class Sessions(Protocol):
    """Reads and intermediate writes: what `Database` and a unit of work both offer, so helpers
    shared by handlers and the admin API take either."""

    def session(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]: ...


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

    def emit(self, event: Event, *, order_key: str | None = None) -> None: ...

    def progress(
        self,
        step: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        order_key: str | None = None,
    ) -> None: ...


class DatabaseUnitOfWork:
    """The unit of work over the service's database, for one message."""

    def __init__(self, db: Database, consumer: str, envelope: Envelope) -> None:
        self._db = db
        self._consumer = consumer
        self._envelope = envelope
        self.message = Incoming.of(envelope)
        self._open: AsyncSession | None = None
        self.committed = False

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self._db.session()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._writing() as session:
            yield session

    @contextlib.asynccontextmanager
    async def commit(self) -> AsyncIterator[AsyncSession]:
        async with self._writing() as session:
            yield session
            inbox.mark_handled(session, self._consumer, self.message.message_id)
        self.committed = True

    async def finish(self) -> None:
        """The consumer's last word: the inbox row alone when the handler committed nothing."""
        if not self.committed:
            async with self.commit():
                pass

    def emit(self, event: Event, *, order_key: str | None = None) -> None:
        """Send `event` (to the outbox of the open transaction), caused by this message."""
        add_to_outbox(
            self._session_for("emit"),
            Envelope.wrap(
                event,
                connection=self.message.connection,
                order_key=order_key or self.message.order_key,
                caused_by=self._envelope,
            ),
        )

    def progress(
        self,
        step: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        order_key: str | None = None,
    ) -> None:
        """Put one step on the order's timeline (an `order.progress` to ingest), with the effect."""
        self.emit(
            OrderProgress(
                service=self._consumer, step=step, message=message, details=details or {}
            ),
            order_key=order_key,
        )

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncSession]:
        self._check_can_write()
        async with self._db.transaction() as session:
            self._open = session
            try:
                yield session
            finally:
                self._open = None

    def _check_can_write(self) -> None:
        if self.committed:
            raise RuntimeError(
                f"{self.message.type} {self.message.message_id} is already committed as "
                "handled: write everything in that one commit"
            )
        if self._open is not None:
            raise RuntimeError("a unit of work opens one transaction at a time")

    def _session_for(self, what: str) -> AsyncSession:
        if self._open is None:
            raise RuntimeError(
                f"{what} inside `async with uow.commit()` (or `uow.transaction()`): a message is "
                "sent only with the transaction that causes it"
            )
        return self._open


class NotBatchable(RuntimeError):
    """A handler marked `@batchable` asked for what a batch cannot give (`uow.transaction()`):
    the consumer handles the batch's messages one at a time instead."""


class BatchedUnitOfWork(DatabaseUnitOfWork):
    """The unit of work of one message in a batch: its `commit()` writes into the batch's one
    transaction (`session`, opened and committed by the consumer), inbox row included."""

    def __init__(self, session: AsyncSession, consumer: str, envelope: Envelope) -> None:
        self._batch = session
        self._consumer = consumer
        self._envelope = envelope
        self.message = Incoming.of(envelope)
        self._open = None
        self.committed = False

    @contextlib.asynccontextmanager
    async def _batch_session(self) -> AsyncIterator[AsyncSession]:
        yield self._batch

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        # The batch's own: it sees what earlier messages of the batch wrote.
        return self._batch_session()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        # A step made durable before calling another system cannot wait for the batch's commit.
        raise NotBatchable(
            f"{self.message.type}'s handler is marked batchable but opens a transaction of its "
            "own: only `uow.commit()` can join a batch"
        )
        yield self._batch  # never reached; makes this a context manager like the one it replaces

    async def finish(self) -> None:
        """The inbox row alone when the handler committed nothing."""
        if not self.committed:
            inbox.mark_handled(self._batch, self._consumer, self.message.message_id)
            self.committed = True

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncSession]:
        # commit() (inherited) writes the inbox row here; the consumer commits the batch.
        self._check_can_write()
        self._open = self._batch
        try:
            yield self._batch
        finally:
            self._open = None
