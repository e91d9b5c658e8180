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

from lb_common.db import Database
from lb_inventory.holds import held_per_sku, hold, release
from lb_inventory.store import HeldOrder
from tests.support.stores import Store

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(store: Store) -> AsyncIterator[Database]:
    database = Database(await store.url("inventory"))
    await database.create_tables([HeldOrder])
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
    assert await held(db) == {"MUG": Decimal(3 * len(orders))}


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


async def test_open_orders_are_summed_a_page_at_a_time(db: Database) -> None:
    """A backlog holds units for every accepted order: they are read `page` orders per query,
    never all at once, and the sums are those of all of them."""
    for n in range(25):
        assert await apply(db, f"o{n:02d}", 1, {"MUG": "1", "HAT": "0.5"})
    async with db.transaction() as session:
        for order in ("o03", "o14", "o24"):  # released ones, on every page
            assert await release(session, "c", order, "booked")
    reads: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM held_orders" in statement and statement.lstrip().upper().startswith("SELECT"):
            reads.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.session() as session:
            found = await held_per_sku(session, "c", except_orders={"o00", "o19"}, page=10)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert found == {"MUG": Decimal(20), "HAT": Decimal("10.0")}
    assert len(reads) == 3  # 22 open orders, 10 per read
    assert all("LIMIT" in statement.upper() for statement in reads)
