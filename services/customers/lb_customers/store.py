"""The customers service's tables: links to ledger customers, settings, the imported debtor index
and merges of duplicate debtors. Creation claims are leases (claims.py, table `leases`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel

from lb_common.db import UTCDateTime, utcnow
from lb_common.ledger_calls import LedgerCallCount


class CustomerLink(SQLModel, table=True):
    """A shop buyer (by match key) ↔ the ledger customer their orders are invoiced to."""

    __tablename__ = "customer_links"

    connection: str = Field(primary_key=True)
    match_key: str = Field(primary_key=True)  # e.g. "email:jane@example.com"
    customer_number: str = Field(index=True)  # the ledger's customer id (e-conomic: its number)
    source: str  # matched | created | manual
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    # The customer this link pointed at before a duplicate merge moved it to customer_number,
    # so the order's timeline can say why the buyer is invoiced to another customer.
    merged_from: str | None = None


_links = CustomerLink.__table__  # type: ignore[attr-defined]


def _link_upsert(dialect: Any) -> Any:
    statement = dialect.insert(_links)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[_links.c.connection, _links.c.match_key],
        set_={c: excluded[c] for c in ("customer_number", "source", "created_at", "merged_from")},
    )


# The link an order's resolution stores: every column as given, over a link the key had (as
# `session.merge` of a new `CustomerLink` writes it, without its read first), in one statement
# built once.
_LINK_UPSERT = {"sqlite": _link_upsert(sqlite), "postgresql": _link_upsert(postgresql)}


def save_link(connection: Connection, link: CustomerLink) -> None:
    """Store `link` in `connection`'s write transaction, replacing the key's link if it had
    one."""
    connection.execute(_LINK_UPSERT[connection.dialect.name], link.model_dump())


class CreationClaim(SQLModel, table=True):
    """No longer used: creation claims are leases now (claims.py, table `leases`).

    Kept for one release so that workers of the previous release, still running during a
    rolling deploy, find their table; the next release drops it (docs/architecture.md,
    Schema changes).
    """

    __tablename__ = "creation_claims"

    connection: str = Field(primary_key=True)
    match_key: str = Field(primary_key=True)
    claimed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class CustomerConnectionSettings(SQLModel, table=True):
    __tablename__ = "customer_settings"

    connection: str = Field(primary_key=True)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class DebtorIndexEntry(SQLModel, table=True):
    """One ledger customer as last imported (POST /connections/{c}/import-debtors).

    Values are stored normalised (see normalise.py); several emails or phones are joined by
    ';'. A copy for duplicate detection and suggestions: e-conomic stays the source of truth.
    """

    __tablename__ = "debtor_index"

    connection: str = Field(primary_key=True)
    customer_number: str = Field(primary_key=True)  # the ledger's customer id
    name: str
    email: str | None = None
    phone: str | None = None
    cvr: str | None = None
    ean: str | None = None
    address: str | None = None
    zip: str | None = None
    city: str | None = None
    barred: bool = False
    imported_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class CustomerMerge(SQLModel, table=True):
    """A duplicate debtor merged into a surviving one: later orders that find `merged_number`
    are booked on `survivor_number`. e-conomic's own records are left as they are."""

    __tablename__ = "customer_merges"

    connection: str = Field(primary_key=True)
    merged_number: str = Field(primary_key=True)  # ledger customer ids, as on links
    survivor_number: str = Field(index=True)
    group_id: str
    rule: str
    merged_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


TABLES = (
    CustomerLink,
    CreationClaim,
    CustomerConnectionSettings,
    DebtorIndexEntry,
    CustomerMerge,
    LedgerCallCount,
)
