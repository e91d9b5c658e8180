"""The handler contract: a service's bootstrap.py maps event classes to handlers, and the
consumer calls each handler with the typed event and a unit of work (unit_of_work.py).

    handlers={OrderReady: functools.partial(resolve.handle_order_ready, ledgers=ledgers)}

    async def handle_order_ready(event: OrderReady, uow: UnitOfWork, *, ledgers: ...) -> None

The routing key is the event class's `TYPE`; the consumer validates the payload against the
class before the handler runs (a payload that does not fit is parked at once, with the reason),
and after the handler returns it commits the inbox row if the handler did not commit.

`@batchable` marks a handler that writes only through `uow.commit()` and calls no other system
(ingest's timeline reports): the consumer may then handle several of its messages in one
transaction (messaging.py, "Batches").
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.db import Database
from lb_common.envelope import Envelope, Event
from lb_common.errors import PermanentError
from lb_common.unit_of_work import (
    BatchedUnitOfWork,
    DatabaseUnitOfWork,
    MessageRows,
    UnitOfWork,
)

#: `handler(event, uow)`; the event's class is the key the handler is mapped under.
Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
HandlerMap = Mapping[type[Event], Handler]
H = TypeVar("H", bound=Callable[..., Awaitable[None]])
_BATCHABLE = "__lb_batchable__"


def batchable(handler: H) -> H:
    """Mark `handler` as one whose messages may share a transaction (see the module docstring).
    It must write only inside `uow.commit()`, never call another system, and behave the same
    whether or not earlier messages of its batch are committed yet."""
    setattr(handler, _BATCHABLE, True)
    return handler


@dataclass(frozen=True)
class Route:
    routing_key: str
    event: type[Event]
    handler: Handler

    @property
    def function(self) -> Callable[..., Any]:
        """The handler function itself (bootstrap.py binds its dependencies with a partial)."""
        handler: Any = self.handler
        while isinstance(handler, functools.partial):
            handler = handler.func
        return handler

    @property
    def batchable(self) -> bool:
        return bool(getattr(self.function, _BATCHABLE, False))


def routes(handlers: HandlerMap) -> dict[str, Route]:
    """Routing key -> route, for the consumer's queue bindings and its dispatch."""
    out: dict[str, Route] = {}
    for event, handler in handlers.items():
        route = Route(event.TYPE, event, handler)
        if route.routing_key in out:
            raise ValueError(f"two handlers for {route.routing_key!r}")
        out[route.routing_key] = route
    return out


async def dispatch(route: Route, envelope: Envelope, db: Database, consumer: str) -> None:
    """Run the handler for one message; returns once its inbox row is committed."""
    event = parse(route.event, envelope)
    uow = DatabaseUnitOfWork(db, consumer, envelope)
    await route.handler(event, uow)
    await uow.finish()


async def dispatch_batched(
    route: Route,
    envelope: Envelope,
    session: AsyncSession,
    consumer: str,
    rows: MessageRows | None = None,
) -> None:
    """Run the handler for one message of a batch, in the batch's transaction `session`; its
    inbox row is written there too (committed with the batch). `rows`: the batch's outbox and
    inbox rows, which the caller writes before it commits (one insert each for the batch);
    None: written at the end of this message's commit."""
    event = parse(route.event, envelope)
    uow = BatchedUnitOfWork(session, consumer, envelope, rows)
    await route.handler(event, uow)
    await uow.finish()


def parse(model: type[Event], envelope: Envelope) -> Event:
    """The typed event; a payload that does not fit will not fit on a retry either."""
    try:
        return envelope.parse(model)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'payload'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise PermanentError(
            f"The {envelope.type} message {envelope.message_id} cannot be read as "
            f"{model.__name__} ({problems}). The sender wrote a payload this version does not "
            "understand: fix the sender or this service, then retry it from the parking lot.",
            detail=str(exc)[:2000],
        ) from exc
