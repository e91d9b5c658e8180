"""The units held by unbooked orders: per order (`held_orders`) and their running total per SKU
(`held_totals`), which every hold and release changes in its own transaction.

Each write to an order is one upsert that also keeps what the order held before
(`previous_units`) and returns it, so the change to the totals is known without a read first.
The totals' changes of a transaction are added up and written once, just before it commits, in
SKU order: a batch of messages in one transaction writes each total once, and two transactions
on PostgreSQL lock the totals' rows in the same order (no deadlock), for the commit only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.db import gathered_until_commit, utcnow
from lb_inventory.store import HeldOrder, HeldTotal

#: How long a released order is remembered, so a late `order.units_held` cannot hold it again.
RELEASED_KEPT = timedelta(days=30)

#: `held_totals` counts millionths of a unit. An order's units are rounded up to one (a total
#: is never below what the orders hold: the shop is never shown more), the same way whenever
#: they are added or taken off, so they cancel exactly.
SCALE = 1_000_000

_orders = HeldOrder.__table__  # type: ignore[attr-defined]
_totals = HeldTotal.__table__  # type: ignore[attr-defined]
#: session.info key: the totals' changes not yet written, (connection, sku) -> millionths.
_PENDING = "lb_inventory.held_total_changes"


@dataclass(frozen=True)
class Change:
    """What a hold or release changed: the order's units (Decimal as text) before and after."""

    before: Mapping[str, str]
    after: Mapping[str, str]

    @property
    def skus(self) -> set[str]:
        return set(self.before) | set(self.after)


def _scaled(quantity: str | Decimal) -> int:
    return int((Decimal(quantity) * SCALE).to_integral_value(rounding=ROUND_CEILING))


async def held_per_sku(
    session: AsyncSession,
    connection: str,
    *,
    skus: Collection[str] | None = None,
    except_orders: Collection[str] = (),
) -> dict[str, Decimal]:
    """The units held per SKU by the connection's open orders (all SKUs, or `skus`), leaving out
    `except_orders`: one read of the totals (with this transaction's changes not yet written),
    and one of the left-out orders, however many orders are open."""
    if skus is not None and not skus:
        return {}
    totals, left_out = _held_queries(connection, skus, except_orders)
    held: defaultdict[str, int] = defaultdict(int)
    for sku, units in (await session.exec(totals)).all():
        held[sku] += units
    for (of, sku), units in session.info.get(_PENDING, {}).items():
        if of == connection and (skus is None or sku in skus):
            held[sku] += units
    if left_out is not None:
        # One column: sqlmodel gives the values.
        _leave_out(held, (await session.exec(left_out)).all())
    return _in_units(held)


def held_per_sku_sync(
    db_connection: Connection,
    connection: str,
    *,
    skus: Collection[str] | None = None,
    except_orders: Collection[str] = (),
) -> dict[str, Decimal]:
    """`held_per_sku` in plain Core, for `read_sync` work (no transaction of ours pending)."""
    if skus is not None and not skus:
        return {}
    totals, left_out = _held_queries(connection, skus, except_orders)
    held: defaultdict[str, int] = defaultdict(int)
    for sku, units in db_connection.execute(totals).all():
        held[sku] += units
    if left_out is not None:
        _leave_out(held, db_connection.execute(left_out).scalars().all())
    return _in_units(held)


def _held_queries(
    connection: str, skus: Collection[str] | None, except_orders: Collection[str]
) -> tuple[Any, Any]:
    totals = select(_totals.c.sku, _totals.c.units).where(_totals.c.connection == connection)
    if skus is not None:
        totals = totals.where(_totals.c.sku.in_(sorted(skus)))
    if not except_orders:
        return totals, None
    left_out = select(_orders.c.units).where(
        _orders.c.connection == connection,
        _orders.c.order_key.in_(sorted(except_orders)),
        _orders.c.released_at.is_(None),
    )
    return totals, left_out


def _leave_out(held: defaultdict[str, int], orders_units: Iterable[Mapping[str, str]]) -> None:
    for units in orders_units:
        for sku, quantity in units.items():
            if sku in held:
                held[sku] -= _scaled(quantity)


def _in_units(held: Mapping[str, int]) -> dict[str, Decimal]:
    return {sku: Decimal(units) / SCALE for sku, units in held.items() if units}


async def hold(
    session: AsyncSession,
    connection: str,
    order_key: str,
    version: datetime,
    units: Mapping[str, Decimal],
) -> Change | None:
    """The order holds `units` now (its version `version`), unless it was released or a newer
    version is recorded. One conditional upsert (compare-and-set), so handlers need no lock
    between them: two versions of one order handled at once leave the newer. The change, or
    None if not applied."""
    values = {q: str(n) for q, n in units.items()}
    statement = _HOLD[session.get_bind().dialect.name]
    parameters = {
        "connection": connection,
        "order_key": order_key,
        "version": version,
        "units": values,
        "updated_at": utcnow(),
    }
    found = (await session.exec(statement, params=parameters)).first()
    if found is None:
        return None
    change = Change(found[0] or {}, values)  # a new row: held nothing before
    _count(session, connection, change)
    return change


def _hold_statement(dialect: Any) -> Any:
    statement = dialect.insert(_orders)
    return statement.on_conflict_do_update(
        index_elements=[_orders.c.connection, _orders.c.order_key],
        # SET reads the row as it was: what it held until now.
        set_={
            "version": statement.excluded.version,
            "units": statement.excluded.units,
            "updated_at": statement.excluded.updated_at,
            "previous_units": _orders.c.units,
        },
        where=_orders.c.released_at.is_(None)
        & (_orders.c.version.is_(None) | (_orders.c.version <= statement.excluded.version)),
    ).returning(_orders.c.previous_units)


#: Built once, run with the order's values as parameters: building the statement per message
#: cost more than running it.
_HOLD = {"sqlite": _hold_statement(sqlite), "postgresql": _hold_statement(postgresql)}


async def release(session: AsyncSession, connection: str, order_key: str, by: str) -> bool:
    """The order's units are no longer held (booked, cancelled or skipped); remembered as
    released so a late `order.units_held` does not hold them again. True if it was held."""
    return bool(await release_orders(session, connection, [order_key], by))


async def release_orders(
    session: AsyncSession, connection: str, order_keys: Iterable[str], by: str
) -> dict[str, Change]:
    """`release` for several orders in one statement; the changes of those that were held."""
    parameters = _release_parameters(connection, order_keys, by)
    if not parameters:
        return {}
    statement = _RELEASE[session.get_bind().dialect.name]
    changes = _released((await session.exec(statement, params=parameters)).all())
    count_changes(session, connection, changes)
    return changes


def release_orders_sync(
    db: Connection, connection: str, order_keys: Iterable[str], by: str
) -> dict[str, Change]:
    """`release_orders` in plain Core, for work run in a plain transaction with the rest of
    it (`write_sync`); the caller passes the changes to `count_changes`."""
    parameters = _release_parameters(connection, order_keys, by)
    if not parameters:
        return {}
    return _released(db.execute(_RELEASE[db.dialect.name], parameters).all())


def _release_parameters(
    connection: str, order_keys: Iterable[str], by: str
) -> list[dict[str, Any]]:
    """One parameter set per order, in key order (two transactions on PostgreSQL lock the
    orders' rows in the same order). SQLAlchemy sends several as one multi-row INSERT."""
    now = utcnow()
    return [
        {
            "connection": connection,
            "order_key": key,
            "units": {},
            "released_at": now,
            "released_by": by,
            "updated_at": now,
        }
        for key in sorted(set(order_keys))
    ]


def _release_statement(dialect: Any) -> Any:
    statement = dialect.insert(_orders)
    return statement.on_conflict_do_update(
        index_elements=[_orders.c.connection, _orders.c.order_key],
        # SET reads the row as it was: what it held until now.
        set_={
            "units": statement.excluded.units,
            "previous_units": _orders.c.units,
            "released_at": statement.excluded.released_at,
            "released_by": statement.excluded.released_by,
            "updated_at": statement.excluded.updated_at,
        },
        where=_orders.c.released_at.is_(None),
    ).returning(_orders.c.order_key, _orders.c.previous_units)


#: Built once, like `_HOLD`: per message, building and compiling it was most of a release.
_RELEASE = {"sqlite": _release_statement(sqlite), "postgresql": _release_statement(postgresql)}


def _released(rows: Iterable[Any]) -> dict[str, Change]:
    return {key: Change(before or {}, {}) for key, before in rows}


def count_changes(session: AsyncSession, connection: str, changes: Mapping[str, Change]) -> None:
    for change in changes.values():
        _count(session, connection, change)


def _count(session: AsyncSession, connection: str, change: Change) -> None:
    """Note the change to the totals, written once just before the transaction commits."""
    pending: defaultdict[tuple[str, str], int] = gathered_until_commit(
        session, _PENDING, lambda: defaultdict(int), _write_totals
    )
    for sku, quantity in change.before.items():
        pending[(connection, sku)] -= _scaled(quantity)
    for sku, quantity in change.after.items():
        pending[(connection, sku)] += _scaled(quantity)


def _add_to_totals(dialect: Any) -> Any:
    statement = dialect.insert(_totals)
    return statement.on_conflict_do_update(
        index_elements=[_totals.c.connection, _totals.c.sku],
        set_={"units": _totals.c.units + statement.excluded.units},
    )


#: Built once (its compiled form is cached), run with one parameter set per changed total.
_ADD_TO_TOTALS = {"sqlite": _add_to_totals(sqlite), "postgresql": _add_to_totals(postgresql)}


def _write_totals(session: Session, pending: Mapping[tuple[str, str], int]) -> None:
    changes = sorted((key, units) for key, units in pending.items() if units)
    if changes:
        session.execute(
            _ADD_TO_TOTALS[session.get_bind().dialect.name],
            [{"connection": c, "sku": sku, "units": units} for (c, sku), units in changes],
        )


async def forget_released(session: AsyncSession, connection: str) -> None:
    """Bounded: released orders are kept `RELEASED_KEPT`, then deleted (they hold nothing, so
    the totals do not change)."""
    await session.exec(
        delete(HeldOrder).where(
            col(HeldOrder.connection) == connection,
            col(HeldOrder.released_at) < utcnow() - RELEASED_KEPT,
        )
    )
