"""The inventory service's tables: the ledger's last known stock per product, per-connection
stock sync settings, the SKU links with the levels last seen and pushed, the mismatch report,
and the full sync runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from lb_common.db import UTCDateTime, utcnow
from lb_common.ledger_calls import LedgerCallCount


class StockLevel(SQLModel, table=True):
    """The ledger's stock of one product as inventory knows it: read at `read_at`, less the
    units booked since (`sold_since_read`, credit notes negative; `derived_stock.py`).
    `available` None: the product keeps no stock (kept so it is not read at every sale; not
    listed under /stock)."""

    __tablename__ = "stock_levels"

    connection: str = Field(primary_key=True)
    product_number: str = Field(primary_key=True)
    # Decimal as text: e-conomic keeps fractional stock for some units.
    available: str | None = None
    in_stock: str | None = None
    sold_since_read: str = "0"
    last_order_key: str | None = None
    read_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # When a booking last took units off the reading (None: the figure is as read).
    derived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class StockConnectionSettings(SQLModel, table=True):
    __tablename__ = "stock_settings"

    connection: str = Field(primary_key=True)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class SkuLink(SQLModel, table=True):
    """SKU ↔ ledger product number ↔ the shop's inventory item, rebuilt by each catalogue scan."""

    __tablename__ = "sku_links"

    connection: str = Field(primary_key=True)
    sku: str = Field(primary_key=True)
    product_number: str
    inventory_item_id: str = Field(index=True)
    variant_id: str
    title: str = ""
    ledger_level: str | None = None  # Decimal as text, as last read from the ledger
    shop_level: int | None = None  # as last read from, or reported by, the shop
    last_pushed: int | None = None  # what we last set in the shop (or found it already showed)
    # The units held by unbooked orders when `last_pushed` was set (Decimal as text): the shop's
    # own sales since then explain `held now - held_at_push` of any move of its level.
    held_at_push: str = "0"
    pushed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    shop_reported_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )


class MismatchRow(SQLModel, table=True):
    __tablename__ = "stock_mismatches"

    connection: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    message: str
    ledger_level: int | None = None
    shop_level: int | None = None
    found_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class HeldOrder(SQLModel, table=True):
    """An order the shop has taken units for and the ledger not yet: its units per SKU (Decimal
    as text) until its invoice is booked or it is cancelled or skipped (`released_at`). A released
    row stays a while so a late or redelivered `order.units_held` does not hold the units again."""

    __tablename__ = "held_orders"

    connection: str = Field(primary_key=True)
    order_key: str = Field(primary_key=True)
    version: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    units: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    released_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True, index=True)
    )
    released_by: str | None = None  # booked | cancelled | skipped
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    # What the order held before its last write, set by that same upsert (holds.py): the
    # running totals (`HeldTotal`) change by the difference, known without a read first.
    previous_units: dict[str, str] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )


class HeldTotal(SQLModel, table=True):
    """The units a connection's open orders (`HeldOrder`) hold per SKU, kept up to date in the
    transaction of every hold and release: a push reads one row per SKU instead of summing
    every open order (a backlog holds one per accepted order). In millionths of a unit
    (`holds.SCALE`), an integer the database adds to in one statement on SQLite and PostgreSQL
    alike."""

    __tablename__ = "held_totals"

    connection: str = Field(primary_key=True)
    sku: str = Field(primary_key=True)
    units: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class SyncRun(SQLModel, table=True):
    __tablename__ = "stock_sync_runs"

    id: int | None = Field(default=None, primary_key=True)
    connection: str = Field(index=True)
    trigger: str  # "schedule" | "admin"
    status: str = "running"  # running | ok | failed
    started_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    mismatches: int = 0
    error: str | None = None
    shop_calls: int = 0
    # What a running sync is doing now (the console shows it live); the last step when done.
    phase: str | None = None


TABLES = (
    StockLevel,
    StockConnectionSettings,
    SkuLink,
    MismatchRow,
    HeldOrder,
    HeldTotal,
    SyncRun,
    LedgerCallCount,
)
