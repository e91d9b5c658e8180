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


#: Open orders read per query by `held_per_sku`. While a backlog waits for its invoices every
#: order ingest accepted holds its units (100,000 in bench/backlog.py), so they are read a page
#: at a time, two columns and no ORM objects: memory follows the page and the SKUs, not the
#: orders.
HELD_PAGE = 1_000


async def held_per_sku(
    session: AsyncSession,
    connection: str,
    *,
    except_orders: Collection[str] = (),
    page: int = HELD_PAGE,
) -> dict[str, Decimal]:
    """The units held per SKU by the connection's open orders (their units sum in Decimal),
    leaving out `except_orders`; read `page` orders at a time, in key order."""
    table = HeldOrder.__table__  # type: ignore[attr-defined]
    held: defaultdict[str, Decimal] = defaultdict(Decimal)
    after = ""
    while True:
        rows = (
            await session.exec(
                select(table.c.order_key, table.c.units)
                .where(
                    table.c.connection == connection,
                    table.c.released_at.is_(None),
                    table.c.order_key > after,
                )
                .order_by(table.c.order_key)
                .limit(page)
            )
        ).all()
        for order_key, units in rows:
            if order_key in except_orders:
                continue
            for sku, quantity in units.items():
                held[sku] += Decimal(quantity)
        if len(rows) < page:
            return dict(held)
        after = rows[-1][0]


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
