"""Applying deliveries that web processes stored as `received` (role `web` answers once the raw
delivery is committed; a worker applies it to its order here, in batches, oldest first).

Each batch is one transaction: the deliveries' outcomes, the orders, the timeline and the
outbox change together, so a crash repeats a batch and never half-applies it.

Several workers share the work:
- PostgreSQL: a batch is claimed with `FOR UPDATE SKIP LOCKED` in the transaction that applies
  it, so workers take different deliveries side by side. A claimed delivery is applied only if
  no earlier delivery of its order is waiting outside the batch (held by another worker); it is
  left for a later pass otherwise, so an order's deliveries are applied in arrival order.
- SQLite: one writer at a time anyway; a batch re-checks under the write lock that its
  deliveries are still waiting, so a second worker never applies one again.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from sqlalchemy import Connection, select

from lb_common.db import Database
from lb_common.work_loop import WorkLoop
from lb_connectors.platforms.base import DeliveryInfo
from lb_connectors.platforms.registry import get_adapter
from lb_ingest.acceptance import apply
from lb_ingest.arrival import Arrival
from lb_ingest.connections import ConnectionCache
from lb_ingest.fast_path.batch import DELIVERIES_RECEIVED, load_batch_state, write_batch
from lb_ingest.reading import read_arrival
from lb_ingest.store import Delivery

_deliveries = Delivery.__table__  # type: ignore[attr-defined]


class DeliveryProcessor:
    def __init__(
        self,
        db: Database,
        shop_connections: ConnectionCache,
        *,
        # Small batches: a batch holds the database's write lock, which web processes need to
        # answer webhooks.
        batch_size: int = 16,
        poll_interval: float = 0.05,
    ) -> None:
        self._db = db
        self._shop_connections = shop_connections
        self._batch_size = batch_size
        # Asked every poll (each second in role `all`, where nothing is usually waiting): built
        # once, and on SQLite read in plain Core (Database.read_sync).
        self._waiting = (
            select(_deliveries)
            .where(_deliveries.c.outcome == "received")
            .order_by(_deliveries.c.id)
            .limit(batch_size)
        )
        self._claimable = _claimable(batch_size)
        self._loop = WorkLoop(
            db,
            flag=DELIVERIES_RECEIVED,
            work=self.apply_received,
            poll_interval=poll_interval,
            what="applying received deliveries",
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self._loop.run(stop)

    async def apply_received(self) -> int:
        """Apply one batch of received deliveries; returns how many."""
        if not self._db.is_sqlite:
            return await self._claim_and_apply()
        rows = await self._db.read_sync(
            lambda conn: [row._asdict() for row in conn.execute(self._waiting)]
        )
        if not rows:
            return 0
        batch = [(row, await self._read(row)) for row in rows]
        return await self._db.write_sync(functools.partial(_apply_batch, batch=batch))

    async def _claim_and_apply(self) -> int:
        async with self._db.write_connection() as conn:
            rows = list((await conn.execute(self._claimable)).all())
            rows = await conn.run_sync(functools.partial(_in_order, rows=rows))
            if not rows:
                return 0
            batch = [(row._asdict(), await self._read(row._asdict())) for row in rows]
            return await conn.run_sync(functools.partial(_apply_batch, batch=batch))

    async def _read(self, delivery: dict[str, Any]) -> Arrival | str:
        """The delivery read again as it was on arrival, or why it can no longer be applied."""
        shop_connection = await self._shop_connections.get(delivery["connection"])
        if shop_connection is None:
            return f"connection {delivery['connection']!r} no longer exists"
        info = DeliveryInfo(
            platform=delivery["platform"],
            topic=delivery["topic"],
            delivery_id=delivery["delivery_id"],
            event_id=None,  # repeats of a merchant action were dropped when it was admitted
            shop=delivery["shop"] or "",
        )
        read = read_arrival(get_adapter(info.platform), shop_connection, info, delivery["body"])
        if isinstance(read, Arrival):
            return read
        return str(read.body.get("error", "the delivery can no longer be read"))


def _claimable(limit: int) -> Any:
    """The oldest waiting deliveries that no other worker holds, locked for this transaction."""
    return (
        select(_deliveries)
        .where(_deliveries.c.outcome == "received")
        .order_by(_deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _in_order(conn: Connection, *, rows: list[Any]) -> list[Any]:
    """The claimed rows that may be applied now: none of them may overtake an earlier waiting
    delivery of its order that another worker holds."""
    claimed = {row.id for row in rows}
    keys = {row.order_key for row in rows if row.order_key is not None}
    if not keys:
        return rows
    waiting = conn.execute(
        select(_deliveries.c.order_key, _deliveries.c.id).where(
            _deliveries.c.outcome == "received",
            _deliveries.c.order_key.in_(keys),
            _deliveries.c.id < max(claimed),
        )
    ).all()
    first_elsewhere: dict[str, int] = {}
    for key, id_ in waiting:
        if id_ not in claimed:
            first_elsewhere[key] = min(id_, first_elsewhere.get(key, id_))
    return [
        row
        for row in rows
        if row.order_key is None or row.id < first_elsewhere.get(row.order_key, row.id + 1)
    ]


def _apply_batch(conn: Connection, *, batch: list[tuple[dict[str, Any], Arrival | str]]) -> int:
    ids = [delivery["id"] for delivery, _ in batch]
    # Another worker may have applied some since they were read (PostgreSQL replicas): take
    # only rows still waiting, and hold them.
    waiting = select(_deliveries.c.id).where(
        _deliveries.c.id.in_(ids), _deliveries.c.outcome == "received"
    )
    if conn.dialect.name != "sqlite":
        waiting = waiting.with_for_update(skip_locked=True)
    still = set(conn.execute(waiting).scalars())
    todo = [(delivery, read) for delivery, read in batch if delivery["id"] in still]
    arrivals = [read for _, read in todo if isinstance(read, Arrival)]
    state = load_batch_state(conn, arrivals, admit=False)
    for delivery, read in todo:
        if isinstance(read, Arrival):
            apply(state, read, delivery)
        else:
            delivery.update(outcome="unusable", error=read)
        state.applied.append(delivery)
    write_batch(conn, state)
    return len(todo)
