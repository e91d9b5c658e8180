"""Reading and releasing the units held by unbooked orders (the `held_orders` table)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.db import utcnow
from lb_inventory.store import HeldOrder

#: How long a released order is remembered, so a late `order.units_held` cannot hold it again.
RELEASED_KEPT = timedelta(days=30)


async def held_per_sku(
    session: AsyncSession, connection: str, *, except_orders: Collection[str] = ()
) -> dict[str, Decimal]:
    """The units held per SKU by the connection's open orders (all of them: unbooked orders
    are few, and their units sum in Decimal), leaving out `except_orders`."""
    rows = (
        await session.exec(
            select(HeldOrder).where(
                HeldOrder.connection == connection, col(HeldOrder.released_at).is_(None)
            )
        )
    ).all()
    held: defaultdict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row.order_key in except_orders:
            continue
        for sku, quantity in row.units.items():
            held[sku] += Decimal(quantity)
    return dict(held)


async def hold(
    session: AsyncSession,
    connection: str,
    order_key: str,
    version: datetime,
    units: Mapping[str, Decimal],
) -> bool:
    """The order holds `units` now (its version `version`), unless it was released or a newer
    version is recorded. One conditional upsert (compare-and-set), so handlers need no lock
    between them: two versions of one order handled at once leave the newer. True if applied."""
    table = HeldOrder.__table__  # type: ignore[attr-defined]
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    now = utcnow()
    values = {q: str(n) for q, n in units.items()}
    statement = dialect.insert(table).values(
        connection=connection, order_key=order_key, version=version, units=values, updated_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.connection, table.c.order_key],
        set_={"version": version, "units": values, "updated_at": now},
        where=table.c.released_at.is_(None)
        & (table.c.version.is_(None) | (table.c.version <= version)),
    ).returning(table.c.order_key)
    return (await session.exec(statement)).first() is not None


async def release(session: AsyncSession, connection: str, order_key: str, by: str) -> bool:
    """The order's units are no longer held (booked, cancelled or skipped); remembered as
    released so a late `order.units_held` does not hold them again. True if it was held."""
    row = await session.get(HeldOrder, (connection, order_key))
    if row is None:
        row = HeldOrder(connection=connection, order_key=order_key)
    elif row.released_at is not None:
        return False
    row.units, row.released_at, row.released_by = {}, utcnow(), by
    row.updated_at = utcnow()
    session.add(row)
    return True


async def forget_released(session: AsyncSession, connection: str) -> None:
    """Bounded: released orders are kept `RELEASED_KEPT`, then deleted."""
    await session.exec(
        delete(HeldOrder).where(
            col(HeldOrder.connection) == connection,
            col(HeldOrder.released_at) < utcnow() - RELEASED_KEPT,
        )
    )
