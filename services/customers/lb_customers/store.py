"""The customers service's tables: links to ledger customers, creation claims, settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from lb_common.db import UTCDateTime, utcnow


class CustomerLink(SQLModel, table=True):
    """A shop buyer (by match key) ↔ the ledger customer their orders are invoiced to."""

    __tablename__ = "customer_links"

    connection: str = Field(primary_key=True)
    match_key: str = Field(primary_key=True)  # e.g. "email:jane@example.com"
    customer_number: int = Field(index=True)
    source: str  # matched | created | manual
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class CreationClaim(SQLModel, table=True):
    """Held while one worker creates the ledger customer for a key; others wait and look again.

    The primary key makes the claim exclusive across replicas sharing the database.
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


TABLES = (CustomerLink, CreationClaim, CustomerConnectionSettings)
