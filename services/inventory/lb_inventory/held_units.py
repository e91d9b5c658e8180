"""Units the shop has sold and the ledger not yet booked, per SKU and connection.

The shop takes a unit from its stock when an order is placed; the ledger only when the invoice
is booked. In between, the ledger's `available` still counts the unit, so the shop may show only
`available - held` (domain.free_to_sell). ingest sends `order.units_held` with each new version
of an accepted order; the units are released when the invoice is booked (after_sale.py) or the
order is cancelled or skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from decimal import Decimal

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.events import OrderUnitsHeld
from lb_common.handlers import batchable
from lb_common.unit_of_work import BatchedUnitOfWork, NotBatchable, UnitOfWork
from lb_inventory.domain import MismatchKind, free_to_sell, level_differs
from lb_inventory.holds import Change, held_per_sku, hold, release_orders
from lb_inventory.store import MismatchRow, SkuLink
from lb_inventory.sync import SyncLocks, set_level_mismatch

log = logging.getLogger("lb_inventory.held_units")


async def reconsider_differences(
    session: AsyncSession, connection: str, skus: Collection[str]
) -> None:
    """Held units changed for these SKUs, so did the ledger's free figure: an open difference
    the shop's own figure now matches (the shop's sale was reported before its order reached us)
    is cleared, unless we set the shop's level since it was found; the others show the new
    free figure."""
    if not skus:
        return
    rows = (
        await session.exec(
            select(MismatchRow).where(
                MismatchRow.connection == connection,
                MismatchRow.kind == "level_differs",
                col(MismatchRow.key).in_(list(skus)),
            )
        )
    ).all()
    if not rows:
        return
    held = await held_per_sku(session, connection, skus={row.key for row in rows})
    for row in rows:
        link = await session.get(SkuLink, (connection, row.key))
        if link is None or link.ledger_level is None or link.shop_level is None:
            continue
        held_now = held.get(row.key, Decimal(0))
        target = free_to_sell(Decimal(link.ledger_level), held_now)
        if link.shop_level == target:
            if link.pushed_at is None or link.pushed_at <= row.found_at:
                await session.delete(row)
                link.last_pushed, link.held_at_push = target, str(held_now)
                session.add(link)
            continue
        if row.shop_level == link.shop_level and row.ledger_level != target:
            await set_level_mismatch(
                session,
                connection,
                level_differs(row.key, target, link.shop_level, lowered=False),
                row.key,
            )


class _Reconsider(Exception):
    """A level difference is open: the message is handled again under the push lock."""


@batchable
async def handle_units_held(event: OrderUnitsHeld, uow: UnitOfWork, *, locks: SyncLocks) -> None:
    """Record (or release) what the order holds. Without an open level difference this is one
    write and takes no lock: a push that read the held units a moment earlier is the same as
    one that ran before this message arrived, and the next push counts them. (Under the push
    lock, each of these messages waited behind every ledger read and shop push of the
    connection; make chaos's 10,000-order run left 18,471 of them queued.) So the messages that
    arrive together share one transaction (`@batchable`): two versions of one order in a batch
    apply in turn, as in two transactions."""
    connection = uow.message.connection
    try:
        async with uow.commit() as session:
            # Asked in the write transaction itself: no read transaction of its own.
            if await _differences_open(session, connection):
                raise _Reconsider
            await _apply(session, connection, event)
        return
    except _Reconsider:
        pass  # nothing written (a batch's transaction is rolled back below)
    if isinstance(uow, BatchedUnitOfWork):
        # The push lock is a lease written in a transaction of its own: the consumer handles
        # these messages one at a time instead.
        raise NotBatchable("a level difference is open: its SKUs are looked at under the lock")
    async with locks.push(connection), uow.commit() as session:
        change = await _apply(session, connection, event)
        if change is not None:
            await reconsider_differences(session, connection, change.skus)


async def _apply(session: AsyncSession, connection: str, event: OrderUnitsHeld) -> Change | None:
    """What the event changed in what the order holds (None: stale, or released before)."""
    if event.released:
        released = await release_orders(
            session, connection, [event.order_key], event.reason or "released"
        )
        return released.get(event.order_key)
    units = {line.sku: line.quantity for line in event.lines}
    return await hold(session, connection, event.order_key, event.version, units)


async def _differences_open(session: AsyncSession, connection: str) -> bool:
    """`has_open_differences`, asked once per transaction: a batch's messages share the answer
    (its transaction sees the same rows for all of them)."""
    asked: dict[str, bool] = session.info.setdefault("lb_inventory.differences_open", {})
    if connection not in asked:
        asked[connection] = await has_open_differences(session, connection)
    return asked[connection]


async def has_open_differences(session: AsyncSession, connection: str) -> bool:
    """Whether any shop level differs from the ledger's free figure and awaits a person."""
    found = await session.exec(_ANY_DIFFERENCE, params={"of_connection": connection})
    return found.first() is not None


#: Built once, run with the connection as a parameter (asked by every batch of holds).
_ANY_DIFFERENCE = (
    select(MismatchRow.key)
    .where(
        MismatchRow.connection == bindparam("of_connection"),
        MismatchRow.kind == MismatchKind.LEVEL_DIFFERS.value,
    )
    .limit(1)
)
