"""A booked document's units come off the derived stock figure by compare-and-set
(lb_inventory/after_sale.py, `_settle`): over the figure the batch read when it is still there,
over the figure as it is now when another writer changed it in between (a reading that already
counts the document takes nothing off), and an invoice's order is released in the same commit.
On SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest

from lb_common.db import Database
from lb_common.events import BookedLine
from lb_common.unit_of_work import UnitOfWork
from lb_inventory.after_sale import Booked, Stored, _settle
from lb_inventory.holds import held_per_sku, hold
from lb_inventory.store import HeldOrder, HeldTotal, StockLevel

READ_AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(store: Any) -> AsyncIterator[Database]:
    database = Database(await store.url("inventory"))
    await database.create_tables([HeldOrder, HeldTotal, StockLevel])
    yield database
    await database.dispose()


class _Message:
    def __init__(self, occurred_at: datetime) -> None:
        self.occurred_at = occurred_at


class _Uow:
    def __init__(self, occurred_at: datetime) -> None:
        self.message = _Message(occurred_at)


def _booked(order_key: str, units: str, booked_at: datetime, document: str = "sale") -> Booked:
    line = BookedLine(sku="MUG", product_number="P1", quantity=Decimal(units))
    uow = cast(UnitOfWork, _Uow(booked_at))
    return Booked(uow, (line,), order_key, document, asyncio.Future())


async def _level(db: Database, available: str, sold: str, read_at: datetime) -> None:
    async with db.transaction() as session:
        row = await session.get(StockLevel, ("c", "P1")) or StockLevel(
            connection="c", product_number="P1"
        )
        row.available, row.in_stock, row.sold_since_read, row.read_at = (
            available, available, sold, read_at,
        )  # fmt: skip
        session.add(row)


async def _settled(db: Database, booked: Booked, seen: Stored) -> dict[str, Stored | None]:
    async with db.transaction() as session:
        return await _settle(session, "c", booked, {"P1": seen})


async def _row(db: Database) -> StockLevel:
    async with db.session() as session:
        row = await session.get(StockLevel, ("c", "P1"))
    assert row is not None
    return row


async def test_units_come_off_the_figure_the_batch_read(db: Database) -> None:
    await _level(db, "50", "0", READ_AT)
    seen = Stored("50", "50", "0", READ_AT)
    written = await _settled(db, _booked("o1", "3", READ_AT + timedelta(minutes=1)), seen)
    assert written == {"P1": Stored("47", "47", "3", READ_AT)}
    # The next document of the batch goes over what the first wrote, with no read.
    written = await _settled(db, _booked("o2", "2", READ_AT + timedelta(minutes=1)), written["P1"])
    row = await _row(db)
    assert (row.available, row.in_stock, row.sold_since_read) == ("45", "45", "5")
    assert row.last_order_key == "o2" and row.derived_at is not None


async def test_a_product_that_keeps_no_stock_counts_its_units_sold(db: Database) -> None:
    # Its figures are NULL: the compare-and-set must still find the row (no "kept changing").
    async with db.transaction() as session:
        session.add(StockLevel(connection="c", product_number="P1", read_at=READ_AT))
    seen = Stored(None, None, "0", READ_AT)
    written = await _settled(db, _booked("o1", "3", READ_AT + timedelta(minutes=1)), seen)
    assert written == {"P1": Stored(None, None, "3", READ_AT)}
    row = await _row(db)
    assert (row.available, row.in_stock, row.sold_since_read) == (None, None, "3")
    assert row.last_order_key == "o1"


async def test_a_figure_changed_since_the_batch_read_it_is_taken_off_as_it_is_now(
    db: Database,
) -> None:
    await _level(db, "50", "0", READ_AT)
    stale = Stored("50", "50", "0", READ_AT)
    await _level(db, "48", "2", READ_AT)  # another document's units came off meanwhile
    await _settled(db, _booked("o1", "3", READ_AT + timedelta(minutes=1)), stale)
    row = await _row(db)
    assert (row.available, row.sold_since_read) == ("45", "5")  # never 47: nothing lost


async def test_a_newer_reading_that_counts_the_document_takes_nothing_off(db: Database) -> None:
    await _level(db, "50", "0", READ_AT)
    stale = Stored("50", "50", "0", READ_AT)
    booked_at = READ_AT + timedelta(minutes=1)
    await _level(db, "47", "0", booked_at + timedelta(minutes=1))  # read after the booking
    assert await _settled(db, _booked("o1", "3", booked_at), stale) == {
        "P1": Stored("47", "47", "0", booked_at + timedelta(minutes=1))
    }
    assert (await _row(db)).available == "47"


async def test_an_invoice_releases_its_order_in_the_same_commit(db: Database) -> None:
    async with db.transaction() as session:
        await hold(session, "c", "o1", READ_AT, {"MUG": Decimal(3)})
        await hold(session, "c", "o2", READ_AT, {"MUG": Decimal(1)})
    await _level(db, "50", "0", READ_AT)
    seen = Stored("50", "50", "0", READ_AT)
    with pytest.raises(RuntimeError):  # the commit fails: neither released nor taken off
        async with db.transaction() as session:
            await _settle(session, "c", _booked("o1", "3", READ_AT), {"P1": seen})
            raise RuntimeError("the commit failed")
    async with db.session() as session:
        assert await held_per_sku(session, "c") == {"MUG": Decimal(4)}
    assert (await _row(db)).available == "50"
    await _settled(db, _booked("o1", "3", READ_AT + timedelta(minutes=1)), seen)
    async with db.session() as session:
        assert await held_per_sku(session, "c") == {"MUG": Decimal(1)}
    # A credit note releases nothing; its units go back.
    await _settled(
        db,
        _booked("o2", "1", READ_AT + timedelta(minutes=2), "credit note"),
        Stored("47", "47", "3", READ_AT),
    )
    async with db.session() as session:
        assert await held_per_sku(session, "c") == {"MUG": Decimal(1)}
    assert (await _row(db)).available == "48"
