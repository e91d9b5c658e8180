"""Reading and releasing the units held by unbooked orders (the `held_orders` table)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.db import utcnow
from lb_inventory.store import HeldOrder

#: How long a released order is remembered, so a late `order.units_held` cannot hold it again.
RELEASED_KEPT = timedelta(days=30)


async def held_per_sku(
    session: AsyncSession, connection: str, *, except_order: str | None = None
) -> dict[str, Decimal]:
    """The units held per SKU by the connection's open orders (all of them: unbooked orders
    are few, and their units sum in Decimal)."""
    rows = (
        await session.exec(
            select(HeldOrder).where(
                HeldOrder.connection == connection, col(HeldOrder.released_at).is_(None)
            )
        )
    ).all()
    held: defaultdict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row.order_key == except_order:
            continue
        for sku, quantity in row.units.items():
            held[sku] += Decimal(quantity)
    return dict(held)


async def release(session: AsyncSession, connection: str, order_key: str, by: str) -> None:
    """The order's units are no longer held (booked, cancelled or skipped); remembered as
    released so a late `order.units_held` does not hold them again."""
    row = await session.get(HeldOrder, (connection, order_key))
    if row is None:
        row = HeldOrder(connection=connection, order_key=order_key)
    elif row.released_at is not None:
        return
    row.units, row.released_at, row.released_by = {}, utcnow(), by
    row.updated_at = utcnow()
    session.add(row)


async def forget_released(session: AsyncSession, connection: str) -> None:
    """Bounded: released orders are kept `RELEASED_KEPT`, then deleted."""
    await session.exec(
        delete(HeldOrder).where(
            col(HeldOrder.connection) == connection,
            col(HeldOrder.released_at) < utcnow() - RELEASED_KEPT,
        )
    )
