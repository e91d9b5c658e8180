"""Purchase history reports (the CRM side): who bought for how much since when.

Totals are booked invoices minus booked credit notes, per customer and currency (amounts in
different currencies are never added together), gross (incl. VAT) as the customer paid them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Numeric,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_invoicing.store import BOOKED, CreditNoteLink, InvoiceLink

# Amounts are stored as text (exact on every database). The sums run in SQL on whole
# millionths: PostgreSQL's NUMERIC is exact anyway, and SQLite, whose NUMERIC is a binary
# float, rounds each amount back to its exact millionths (exact below a billion per document)
# and then adds integers, which it does exactly.
_SCALE = 6
_UNIT = Decimal(1).scaleb(-_SCALE)


@dataclass(frozen=True)
class CustomerTotal:
    customer_number: str  # the ledger's id, as text
    name: str | None
    currency: str
    total: Decimal
    invoices: int
    credit_notes: int
    last_purchase: date


def _units(amount: Any) -> ColumnElement[int]:
    exact = cast(func.coalesce(amount, "0"), Numeric) * 10**_SCALE
    return cast(func.round(exact), BigInteger)


def _booked(since: date | None) -> Any:
    """Every booked invoice and credit note (negative), dated on or after `since`."""
    invoice_dated = [col(InvoiceLink.invoice_date) >= since] if since else []
    note_dated = [col(CreditNoteLink.invoice_date) >= since] if since else []
    invoices: Any = select(
        col(InvoiceLink.customer_number).label("customer_number"),
        func.coalesce(col(InvoiceLink.currency), "").label("currency"),
        _units(col(InvoiceLink.gross_amount)).label("units"),
        col(InvoiceLink.invoice_date).label("day"),
    ).where(col(InvoiceLink.step) == BOOKED, *invoice_dated)
    notes: Any = select(
        col(CreditNoteLink.customer_number),
        func.coalesce(col(CreditNoteLink.currency), ""),
        _units(col(CreditNoteLink.gross_amount)),
        col(CreditNoteLink.invoice_date),
    ).where(
        col(CreditNoteLink.step) == BOOKED,
        col(CreditNoteLink.customer_number).is_not(None),
        *note_dated,
    )
    return union_all(invoices, notes).subquery("booked")


async def customer_totals(
    session: AsyncSession,
    *,
    since: date | None,
    min_total: Decimal,
    limit: int | None = None,
    offset: int = 0,
) -> list[CustomerTotal]:
    """Customers whose total since `since` reaches `min_total`, largest first; summed in the
    database, one row per customer and currency."""
    booked = _booked(since)
    total = func.sum(booked.c.units)
    query = (
        select(
            booked.c.customer_number,
            booked.c.currency,
            total.label("units"),
            func.sum(case((booked.c.units >= 0, 1), else_=0)).label("invoices"),
            func.sum(case((booked.c.units < 0, 1), else_=0)).label("credit_notes"),
            func.max(booked.c.day).label("last_purchase"),
        )
        .group_by(booked.c.customer_number, booked.c.currency)
        .having(total >= literal(_min_units(min_total), BigInteger))
        .order_by(total.desc(), booked.c.customer_number, booked.c.currency)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = list(await session.exec(query))  # type: ignore[call-overload]
    names = await _latest_names(session, {r.customer_number for r in rows}, since)
    return [
        CustomerTotal(
            customer_number=r.customer_number,
            name=names.get((r.customer_number, r.currency)),
            currency=r.currency,
            total=_amount(int(r.units)),
            invoices=int(r.invoices),
            credit_notes=int(r.credit_notes),
            last_purchase=_day(r.last_purchase),
        )
        for r in rows
    ]


def _min_units(amount: Decimal) -> int:
    """The smallest whole number of millionths that is at least `amount`."""
    return int((amount / _UNIT).to_integral_value(rounding=ROUND_CEILING))


def _amount(units: int) -> Decimal:
    """Millionths back to an amount, with two decimals (the ledger's) unless it has more."""
    amount = Decimal(units).scaleb(-_SCALE)
    two = amount.quantize(Decimal("0.01"))
    return two if two == amount else amount.normalize()


def _day(value: date | str | None) -> date:
    if value is None:
        return date.min
    # SQLite returns a UNION's dates as text.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def _latest_names(
    session: AsyncSession, customers: set[str], since: date | None
) -> dict[tuple[str, str], str]:
    """The recipient name on each customer's latest booked document, per currency (only the
    name is read out of the stored documents, and only for the customers shown)."""
    if not customers:
        return {}
    found: dict[tuple[str, str], tuple[tuple[str, str], str]] = {}
    for table in (InvoiceLink, CreditNoteLink):
        name = col(table.document)["recipient"]["name"].as_string()
        query = select(
            col(table.customer_number),
            func.coalesce(col(table.currency), ""),
            col(table.invoice_date),
            col(table.updated_at),
            name,
        ).where(
            col(table.step) == BOOKED,
            col(table.customer_number).in_(customers),
            name.is_not(None),
        )
        if since is not None:
            query = query.where(col(table.invoice_date) >= since)
        for number, currency, day, updated, value in await session.exec(query):  # type: ignore[call-overload]
            if not value:
                continue
            when = (str(day or ""), str(updated or ""))
            key = (number, currency)
            if key not in found or when >= found[key][0]:
                found[key] = (when, value)
    return {key: value for key, (_, value) in found.items()}


def as_csv(rows: list[CustomerTotal]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "customer_number",
            "name",
            "currency",
            "total",
            "invoices",
            "credit_notes",
            "last_purchase",
        ]
    )
    for r in rows:
        writer.writerow(
            [
                r.customer_number,
                r.name or "",
                r.currency,
                f"{r.total}",
                r.invoices,
                r.credit_notes,
                r.last_purchase.isoformat(),
            ]
        )
    return out.getvalue()
