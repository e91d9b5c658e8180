"""Group commit for webhook deliveries.

Requests queue their (already verified and parsed) deliveries here; one writer task takes all
that are waiting, at once (no linger: a delivery with nothing queued behind it is written
alone, without waiting for company) and stores them in one transaction (batch.py reads and writes, with one
statement per table; acceptance.py decides). Each request is answered once its batch committed,
so a delivery is never acknowledged before it is durable. Under load this turns a dozen
statements and a commit per webhook into a handful per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from lb_common import tracing
from lb_common.db import Database
from lb_ingest.acceptance import accept, admit_only
from lb_ingest.arrival import Arrival, WebhookAnswer, error_answer
from lb_ingest.fast_path.batch import load_batch_state, write_batch

log = logging.getLogger(__name__)


class DeliveryWriter:
    """`defer`: only admit deliveries (store them `received`) and leave applying them to a
    worker's DeliveryProcessor (role `web`); otherwise admit and apply in one transaction."""

    def __init__(self, db: Database, *, max_batch: int = 256, defer: bool = False) -> None:
        self._db = db
        self._max_batch = max_batch
        self._defer = defer
        self._queue: asyncio.Queue[tuple[Arrival, asyncio.Future[WebhookAnswer]]] = asyncio.Queue()

    @property
    def defers(self) -> bool:
        return self._defer

    async def submit(self, arrival: Arrival) -> WebhookAnswer:
        future: asyncio.Future[WebhookAnswer] = asyncio.get_running_loop().create_future()
        await self._queue.put((arrival, future))
        return await future

    async def run(self, stop: asyncio.Event) -> None:
        """Write batches until `stop` is set and the queue is empty."""
        while True:
            first = await self._next(stop)
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)

    async def _next(
        self, stop: asyncio.Event
    ) -> tuple[Arrival, asyncio.Future[WebhookAnswer]] | None:
        if not self._queue.empty():
            return self._queue.get_nowait()
        if stop.is_set():
            return None
        getter = asyncio.ensure_future(self._queue.get())
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if getter in done:
            return getter.result()
        getter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await getter
        return self._queue.get_nowait() if not self._queue.empty() else None

    async def _write(self, batch: list[tuple[Arrival, asyncio.Future[WebhookAnswer]]]) -> None:
        try:
            outcomes = await self._store([a for a, _ in batch])
        except IntegrityError:
            # Another process stored one of these deliveries, or admitted the same merchant
            # action, in the meantime (unique indexes): one by one, so only that one is
            # answered as a duplicate. Stored again, a merchant action already admitted is
            # found and kept as `duplicate`.
            outcomes = []
            for arrival, _ in batch:
                try:
                    outcomes.extend(await self._store([arrival]))
                except IntegrityError:
                    outcomes.append(WebhookAnswer(200, {"status": "duplicate"}))
        except Exception:
            log.exception("could not store a batch of %d webhook deliveries", len(batch))
            outcomes = [error_answer(503, "the delivery could not be stored; send it again")] * len(
                batch
            )
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    async def _store(self, arrivals: list[Arrival]) -> list[WebhookAnswer]:
        store = functools.partial(_store_batch, arrivals=arrivals, defer=self._defer)
        return await self._db.write_sync(store)


def _store_batch(conn: Connection, *, arrivals: list[Arrival], defer: bool) -> list[WebhookAnswer]:
    state = load_batch_state(conn, arrivals, apply=not defer)
    take = admit_only if defer else accept
    outcomes = []
    for arrival in arrivals:
        with tracing.resumed(arrival.trace):  # its messages continue the webhook's trace
            outcomes.append(take(state, arrival))
    write_batch(conn, state)
    return outcomes
