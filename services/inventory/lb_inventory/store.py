"""The inventory service's tables: the ledger's last known stock per product."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from lb_common.db import UTCDateTime, utcnow


class StockLevel(SQLModel, table=True):
    __tablename__ = "stock_levels"

    connection: str = Field(primary_key=True)
    product_number: str = Field(primary_key=True)
    # Decimal as text: e-conomic keeps fractional stock for some units.
    available: str | None = None
    in_stock: str | None = None
    sold_since_read: str = "0"
    last_order_key: str | None = None
    read_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


TABLES = (StockLevel,)
