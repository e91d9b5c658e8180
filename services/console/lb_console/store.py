"""The console's own tables: operators' sessions and the audit log. Nothing else is kept here:
orders, settings and parked messages are read from the services every time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from lb_common.db import UTCDateTime, utcnow


class ConsoleSession(SQLModel, table=True):
    __tablename__ = "console_sessions"

    # SHA-256 of the session id: a copy of the database does not hand out live sessions.
    id_hash: str = Field(primary_key=True)
    operator: str
    csrf_token: str
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))


class AuditEntry(SQLModel, table=True):
    __tablename__ = "console_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    operator: str = Field(index=True)
    action: str = Field(index=True)
    target: str = ""
    reason: str = ""
    outcome: str = ""


TABLES: tuple[type[SQLModel], ...] = (ConsoleSession, AuditEntry)
