"""The units an order holds, written by compare-and-set (lb_inventory/holds.py): versions that
arrive out of order or at once leave the newest, and a released order is never held again.
On SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from lb_common.db import Database
from lb_inventory.holds import held_per_sku, hold, release, release_orders
from lb_inventory.store import HeldOrder, HeldTotal
from tests.support.stores import Store

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(store: Store) -> AsyncIterator[Database]:
    database = Database(await store.url("inventory"))
    await database.create_tables([HeldOrder, HeldTotal])
    yield database
    await database.dispose()


async def held(db: Database) -> dict[str, Decimal]:
    async with db.session() as session:
        return await held_per_sku(session, "c")


async def apply(db: Database, order: str, minutes: int, units: dict[str, str]) -> bool:
    async with db.transaction() as session:
        version = T0 + timedelta(minutes=minutes)
        return await hold(session, "c", order, version, {k: Decimal(v) for k, v in units.items()})


async def test_an_older_version_after_a_newer_one_changes_nothing(db: Database) -> None:
    assert await apply(db, "o1", 2, {"MUG": "3"})
    assert not await apply(db, "o1", 1, {"MUG": "1", "HAT": "1"})
    assert await held(db) == {"MUG": Decimal(3)}
    assert await apply(db, "o1", 2, {"MUG": "3"})  # the same version again: applied, same units
    assert await apply(db, "o1", 3, {"HAT": "2"})
    assert await held(db) == {"HAT": Decimal(2)}


async def test_versions_handled_at_once_leave_the_newest(db: Database) -> None:
    orders = [f"o{n}" for n in range(10)]
    writes = [apply(db, order, minutes, {"MUG": str(minutes)}) for order in orders
              for minutes in (1, 2, 3)]  # fmt: skip
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    assert await held(db) == {"MUG": Decimal(3 * len(orders))} == await open_orders_summed(db)


async def test_a_released_order_is_not_held_again(db: Database) -> None:
    assert await apply(db, "o1", 1, {"MUG": "2"})
    assert await apply(db, "o2", 1, {"MUG": "1"})
    async with db.transaction() as session:
        assert await release(session, "c", "o1", "booked")
    async with db.transaction() as session:
        assert not await release(session, "c", "o1", "booked")  # once
    assert not await apply(db, "o1", 5, {"MUG": "2"})  # a late version of a booked order
    assert await held(db) == {"MUG": Decimal(1)}
    async with db.session() as session:
        assert await held_per_sku(session, "c", except_orders=["o2"]) == {}


async def open_orders_summed(db: Database) -> dict[str, Decimal]:
    """The held units summed the slow way, from every open order."""
    async with db.session() as session:
        rows = (
            await session.exec(select(HeldOrder.units).where(col(HeldOrder.released_at).is_(None)))
        ).all()
    summed: dict[str, Decimal] = {}
    for units in rows:
        for sku, quantity in units.items():
            summed[sku] = summed.get(sku, Decimal(0)) + Decimal(quantity)
    return {sku: q for sku, q in summed.items() if q}


async def test_the_totals_follow_every_hold_and_release_once(db: Database) -> None:
    """A redelivered version, an older one after a newer one, a release and a late version of a
    released order: each changes the running total as it changes the orders, never twice."""
    assert await apply(db, "o1", 1, {"MUG": "2", "HAT": "0.5"})
    assert await apply(db, "o1", 1, {"MUG": "2", "HAT": "0.5"})  # redelivered
    assert await apply(db, "o2", 1, {"MUG": "1"})
    assert await held(db) == {"MUG": Decimal(3), "HAT": Decimal("0.5")}
    assert await apply(db, "o1", 3, {"HAT": "1"})
    assert not await apply(db, "o1", 2, {"MUG": "7"})  # older, arriving late
    assert await held(db) == {"MUG": Decimal(1), "HAT": Decimal(1)}
    async with db.transaction() as session:
        assert await release(session, "c", "o2", "booked")
        assert not await release(session, "c", "o2", "booked")
    assert not await apply(db, "o2", 5, {"MUG": "4"})
    assert await held(db) == {"HAT": Decimal(1)} == await open_orders_summed(db)
    async with db.transaction() as session:
        changes = await release_orders(session, "c", ["o1", "o2", "o9"], "booked")
        # Within the transaction the totals already count the releases.
        assert await held_per_sku(session, "c") == {}
    assert sorted(changes) == ["o1", "o9"]  # o2 was released before; o9 never held
    assert await held(db) == {}
    assert not await apply(db, "o9", 1, {"MUG": "1"})  # released before it was ever held


async def test_a_failed_transaction_changes_no_total(db: Database) -> None:
    assert await apply(db, "o1", 1, {"MUG": "2"})
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await hold(session, "c", "o1", T0 + timedelta(minutes=5), {"MUG": Decimal(9)})
            raise RuntimeError("rolled back")
    assert await held(db) == {"MUG": Decimal(2)}


async def test_fractions_below_a_millionth_are_held_rounded_up(db: Database) -> None:
    assert await apply(db, "o1", 1, {"MUG": "0.0000001"})
    assert await held(db) == {"MUG": Decimal("0.000001")}  # never less than is held
    async with db.transaction() as session:
        assert await release(session, "c", "o1", "booked")
    assert await held(db) == {}


async def test_the_sum_reads_the_totals_not_the_open_orders(db: Database) -> None:
    """A backlog holds units for every accepted order: the held units per SKU are one read of
    the totals however many orders are open, and the same as summing the orders."""
    for n in range(25):
        assert await apply(db, f"o{n:02d}", 1, {"MUG": "1", "HAT": "0.5"})
    async with db.transaction() as session:
        await release_orders(session, "c", ["o03", "o14", "o24"], "booked")
    reads: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            reads.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.session() as session:
            everything = await held_per_sku(session, "c")
            found = await held_per_sku(session, "c", except_orders={"o00", "o19", "o03"})
            mugs = await held_per_sku(session, "c", skus={"MUG"})
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert everything == await open_orders_summed(db) == {"MUG": 22, "HAT": 11}
    assert found == {"MUG": Decimal(20), "HAT": Decimal("10.0")}
    assert mugs == {"MUG": Decimal(22)}
    # The totals three times, the left-out orders (not all open ones) once.
    assert sum("FROM held_totals" in r for r in reads) == 3
    assert sum("FROM held_orders" in r for r in reads) == 1 == len(reads) - 3
