"""The customers report, summed in the database (SQLite and PostgreSQL): totals per customer
and currency, credit notes subtracted, exact to the cent, one page at a time. The figures are
those the report computed in Python before it moved into SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from lb_common.db import Database
from lb_invoicing.reports import as_csv, customer_totals
from lb_invoicing.store import BOOKED, DRAFTED, TABLES, CreditNoteLink, InvoiceLink
from tests.support.databases import KINDS, scratch_database

MIGRATIONS = Path(__import__("lb_invoicing").__file__).parent / "migrations"


@pytest.fixture(params=KINDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with scratch_database(request.param, tmp_path, MIGRATIONS, TABLES) as database:
        yield database


async def _book(db: Database, *docs: tuple[int, str, str, str, str], step: str = BOOKED) -> None:
    """(customer, gross, day, currency, name) each; a negative gross is a credit note."""
    async with db.transaction() as session:
        for n, (customer, gross, day, currency, name) in enumerate(docs):
            values = {
                "connection": "demo",
                "step": step,
                "customer_number": str(customer),  # the ledger's id, as text
                "currency": currency,
                "gross_amount": gross,
                "invoice_date": date.fromisoformat(day),
                "document": {"recipient": {"name": name}},
            }
            key = f"shopify:s:{customer}-{day}-{n}-{step}"
            if gross.startswith("-"):
                session.add(CreditNoteLink(reference=f"{key}:refund:1", order_key=key, **values))
            else:
                session.add(InvoiceLink(order_key=key, **values))


async def _report(db: Database, **kw) -> list:
    async with db.session() as session:
        return await customer_totals(session, **kw)


async def test_totals_since_a_date_above_an_amount_with_credit_notes_subtracted(db: Database):
    await _book(
        db,
        (1, "4000.00", "2025-01-15", "DKK", "A"),  # before the date: not counted
        (1, "3000.00", "2025-02-10", "DKK", "A"),
        (1, "2500.00", "2025-03-01", "DKK", "A"),
        (1, "-600.00", "2025-03-05", "DKK", "A"),  # a credit note
        (2, "5000.00", "2025-02-02", "DKK", "B"),
        (3, "9000.00", "2025-02-02", "EUR", "C"),
        (3, "100.00", "2025-02-03", "DKK", "C"),  # other currency: its own row
    )
    await _book(db, (4, "99999.00", "2025-02-02", "DKK", "D"), step=DRAFTED)  # not booked
    rows = await _report(db, since=date(2025, 2, 1), min_total=Decimal(5000))
    assert [(r.customer_number, r.currency, r.total) for r in rows] == [
        ("3", "EUR", Decimal("9000.00")),
        ("2", "DKK", Decimal("5000.00")),
    ]
    with_one = await _report(db, since=date(2025, 2, 1), min_total=Decimal(4000))
    first = next(r for r in with_one if r.customer_number == "1")
    assert (first.total, first.invoices, first.credit_notes) == (Decimal("4900.00"), 2, 1)
    assert first.last_purchase == date(2025, 3, 5)
    assert (first.name, str(first.total)) == ("A", "4900.00")

    # Pages, largest first.
    page = await _report(db, since=None, min_total=Decimal(0), limit=2, offset=1)
    assert [(r.customer_number, r.currency, r.total) for r in page] == [
        ("1", "DKK", Decimal("8900.00")),
        ("2", "DKK", Decimal("5000.00")),
    ]


async def test_sums_are_exact_where_binary_floats_are_not(db: Database):
    # 0.10 + 0.20 + ... in binary floating point is not 0.30; a total at the threshold must
    # reach it exactly.
    await _book(db, *[(5, "0.10", "2025-02-02", "DKK", "E") for _ in range(3)])
    await _book(
        db, (5, "1234567.89", "2025-02-03", "DKK", "E"), (5, "-0.01", "2025-02-04", "DKK", "E")
    )
    [row] = await _report(db, since=None, min_total=Decimal("1234568.18"))
    assert row.total == Decimal("1234568.18")
    assert await _report(db, since=None, min_total=Decimal("1234568.181")) == []


async def test_csv_has_a_header_and_exact_amounts(db: Database):
    await _book(db, (7, "5000.50", "2025-02-02", "DKK", "Tøj & Co"))
    lines = as_csv(await _report(db, since=None, min_total=Decimal(0))).splitlines()
    assert lines[0] == "customer_number,name,currency,total,invoices,credit_notes,last_purchase"
    assert lines[1] == "7,Tøj & Co,DKK,5000.50,1,0,2025-02-02"
