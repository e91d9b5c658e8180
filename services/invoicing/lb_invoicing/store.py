"""The invoicing service's tables: order ↔ document links with the step reached, and settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Connection, String, Update, bindparam, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.db import UTCDateTime, utcnow
from lb_common.ledger_calls import LedgerCallCount

# Steps, written before and after each call to the ledger (see book.py).
INTENT = "intent"  # about to create the draft
DRAFTED = "drafted"  # the draft exists in the ledger
BOOKED = "booked"
# A refund's credit note that a cancellation took over: the cancellation credits everything the
# booked credit notes left, this refund's money included (credit.py), so none is made for it.
COVERED = "covered"


class InvoiceLink(SQLModel, table=True):
    __tablename__ = "invoice_links"

    order_key: str = Field(primary_key=True)
    connection: str = Field(index=True)
    step: str = Field(index=True)  # the list finds unfinished ones; the report booked ones
    # The ledger's ids, as text (the ledger port's ids are strings: "1001", a QuickBooks Id).
    customer_number: str = Field(index=True)
    draft_invoice_number: str | None = None
    booked_invoice_number: str | None = Field(default=None, index=True)
    currency: str | None = None
    taxes_included: bool = False  # how the shop priced it: refunds are read the same way
    net_amount: str | None = None  # Decimal as text
    vat_amount: str | None = None
    gross_amount: str | None = None
    invoice_date: date | None = Field(default=None, index=True)
    # The booked document as the ledger returned it, with its lines (purchase history).
    document: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # The voucher registering an up-front payment ("<accounting year>-<voucher number>").
    payment_voucher: str | None = None
    # A post of that voucher was attempted: until payment_voucher is set, its outcome is
    # unknown, and the journal is looked up before posting again (posted_payments.py).
    payment_attempted: bool = False
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    # Indexed: the admin list shows the most recently changed first.
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )


_links = InvoiceLink.__table__  # type: ignore[attr-defined]


# The booking path's statements, in plain Core: no identity map, no flush, no read before a
# write. The intent's run on a plain connection, in one `Database.write_sync` transaction
# (no async adapter between them and the database); the later steps on the session's. Each is
# built once: the columns an insert or update writes are the keys of the values it runs with
# (SQLAlchemy compiles, and caches, one statement per set of keys).
_KEY, _AT = bindparam("b_order_key", type_=String), bindparam("b_only_at", type_=String)
_INSERT_NEW = {
    "sqlite": sqlite.insert(_links).on_conflict_do_nothing(),
    "postgresql": postgresql.insert(_links).on_conflict_do_nothing(),
}
_READ = core_select(_links).where(_links.c.order_key == _KEY)
_UPDATE = update(_links).where(_links.c.order_key == _KEY)
_UPDATE_AT = _UPDATE.where(_links.c.step == _AT)


def insert_new_link(connection: Connection, link: InvoiceLink) -> bool:
    """Insert `link` unless the order has one already; whether it was inserted."""
    statement = _INSERT_NEW["sqlite" if connection.dialect.name == "sqlite" else "postgresql"]
    values = {k: v for k, v in link.model_dump().items() if v is not None}  # NULL, not JSON null
    return bool(connection.execute(statement, values).rowcount)


def read_link(connection: Connection, order_key: str) -> InvoiceLink | None:
    row = connection.execute(_READ, {"b_order_key": order_key}).first()
    return None if row is None else InvoiceLink.model_validate(row._mapping)


def _update(
    order_key: str, only_at: str | None, values: dict[str, Any]
) -> tuple[Update, dict[str, Any]]:
    """The statement and what it runs with."""
    if only_at is None:
        return _UPDATE, {**values, "b_order_key": order_key}
    return _UPDATE_AT, {**values, "b_order_key": order_key, "b_only_at": only_at}


def update_link_in(
    connection: Connection, order_key: str, *, only_at: str | None = None, **values: Any
) -> bool:
    """`update_link` on a plain connection."""
    return bool(connection.execute(*_update(order_key, only_at, values)).rowcount)


async def update_link(
    session: AsyncSession, order_key: str, *, only_at: str | None = None, **values: Any
) -> bool:
    """Set `values` on the order's link (`only_at`: only while it is at that step); whether a
    row changed."""
    connection = await session.connection()
    return bool((await connection.execute(*_update(order_key, only_at, values))).rowcount)


class CreditNoteLink(SQLModel, table=True):
    """One credit note per refund (or cancellation) of an order, with the step reached."""

    __tablename__ = "credit_note_links"

    reference: str = Field(primary_key=True)  # "<order key>:refund:<id>" or "<order key>:cancel"
    order_key: str = Field(index=True)
    connection: str
    step: str = Field(index=True)
    draft_invoice_number: str | None = None  # the ledger's ids, as text
    booked_invoice_number: str | None = None
    gross_amount: str | None = None  # negative, Decimal as text
    customer_number: str | None = Field(default=None, index=True)
    currency: str | None = None
    invoice_date: date | None = Field(default=None, index=True)
    document: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    # Indexed: the admin list shows the most recently changed first.
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )


async def booked_credit_notes(session: AsyncSession, order_key: str) -> list[CreditNoteLink]:
    rows = await session.exec(
        select(CreditNoteLink).where(
            CreditNoteLink.order_key == order_key, CreditNoteLink.step == BOOKED
        )
    )
    return list(rows.all())


async def credit_notes_of(session: AsyncSession, order_key: str) -> list[CreditNoteLink]:
    """Every credit note of the order, whatever step it reached."""
    rows = await session.exec(select(CreditNoteLink).where(CreditNoteLink.order_key == order_key))
    return list(rows.all())


class InvoiceConnectionSettings(SQLModel, table=True):
    __tablename__ = "invoice_settings"

    connection: str = Field(primary_key=True)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


TABLES = (InvoiceLink, CreditNoteLink, InvoiceConnectionSettings, LedgerCallCount)
