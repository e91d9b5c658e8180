"""Each service's copy of the connections it serves (ingest owns them; lb_ingest/connections.py):
kept in the service's own database from `connection.changed` messages, and in memory for the
ledger and shop clients (lb_connectors/ledgers.py, shops.py), which pick a connection's
credentials synchronously on every call.

Replicas share the database but only one of them receives a given message, so every process
reloads the table every couple of seconds (`keep_fresh`): a change reaches every replica within
seconds. The copy survives restarts; ingest sends every connection again at its start and every
`LEDGERBRIDGE_INGEST_CONNECTIONS_RESEND_SECONDS`, so a service that missed messages catches up.

A connection the service holds no copy of uses the environment's ledger and shop if
`LEDGERBRIDGE_ENVIRONMENT_CONNECTIONS` allows it (the single-connection default), else its
message waits (retried) for the copy. A disabled or deleted connection's messages are parked
with the reason; replay them after enabling it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.db import Database, UTCDateTime, utcnow
from lb_common.errors import Contention, PermanentError
from lb_common.events import ConnectionChanged
from lb_common.sealing import SealError, SecretBox
from lb_common.settings import CommonSettings
from lb_common.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class ConnectionCopy(SQLModel, table=True):
    """A connection as the service last heard of it; `sealed` is never opened on disk."""

    __tablename__ = "connection_copies"

    name: str = Field(primary_key=True)
    revision: int
    platform: str
    enabled: bool
    deleted: bool = False
    ledger_kind: str | None = None
    sealed: str | None = None
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


@dataclass(frozen=True)
class ShopAccess:
    """How to reach the shop's Admin API."""

    admin_url: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class LedgerAccess:
    """Which ledger, and its kind's credentials (e-conomic: base_url, app_secret_token,
    agreement_grant_token)."""

    kind: str
    credentials: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class ConnectionAccess:
    name: str
    revision: int
    enabled: bool
    deleted: bool
    shop: ShopAccess | None  # None: the environment's shop
    ledger: LedgerAccess | None  # None: the environment's ledger
    unreadable: bool = False  # sealed with a key this process does not have


class ConnectionDisabled(PermanentError):
    """Work for a disabled or deleted connection: parked until it is enabled and replayed."""


class ConnectionNotYetKnown(Contention):
    """A connection this service holds no copy of, in a deployment where such a connection may
    not fall back to the environment's credentials: its `connection.changed` is on its way."""


def open_access(box: SecretBox, copy: ConnectionCopy) -> ConnectionAccess:
    shop = ledger = None
    unreadable = False
    if copy.sealed:
        try:
            opened = box.open(copy.sealed)
        except SealError:
            log.warning("connection %s: its secrets cannot be opened with the keys", copy.name)
            opened, unreadable = {}, True
        if opened.get("shop"):
            shop = ShopAccess(opened["shop"]["admin_url"], opened["shop"]["admin_token"])
        if opened.get("ledger"):
            ledger = LedgerAccess(opened["ledger"]["kind"], opened["ledger"]["credentials"])
    return ConnectionAccess(
        copy.name, copy.revision, copy.enabled, copy.deleted, shop, ledger, unreadable
    )


def copy_of(event: ConnectionChanged) -> ConnectionCopy:
    return ConnectionCopy(
        name=event.name,
        revision=event.revision,
        platform=event.platform,
        enabled=event.enabled,
        deleted=event.deleted,
        ledger_kind=event.ledger_kind,
        sealed=event.sealed,
    )


class ConnectionBook:
    """The copies in memory, for the clients' synchronous look-ups."""

    def __init__(
        self, db: Database, box: SecretBox, settings: CommonSettings, *, refresh: float = 2.0
    ) -> None:
        self._db = db
        self._box = box
        self._settings = settings
        self._refresh = refresh
        self._entries: dict[str, ConnectionAccess] = {}

    async def load(self) -> None:
        async with self._db.session() as session:
            rows = (await session.exec(select(ConnectionCopy))).all()
        # Opening is the slow part: only rows that changed since the last load are opened.
        entries = {}
        for row in rows:
            known = self._entries.get(row.name)
            if known is not None and known.revision == row.revision and not known.unreadable:
                entries[row.name] = known
            else:
                entries[row.name] = open_access(self._box, row)
        self._entries = entries

    async def keep_fresh(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._refresh)
                return
            try:
                await self.load()
            except Exception:  # the database away for a moment: the last copy still serves
                log.warning("connections could not be reloaded", exc_info=True)

    def apply(self, copy: ConnectionCopy) -> None:
        self._entries[copy.name] = open_access(self._box, copy)

    def get(self, name: str) -> ConnectionAccess | None:
        return self._entries.get(name)

    def is_active(self, name: str) -> bool:
        access = self._entries.get(name)
        if access is None:
            return self._settings.may_use_environment(name)
        return access.enabled and not access.deleted

    def resolve(self, name: str) -> ConnectionAccess | None:
        """The connection's own access; None: it uses the environment's ledger and shop.
        Raises for a connection whose work must not go on (see the module docstring)."""
        access = self._entries.get(name)
        if access is None:
            if self._settings.may_use_environment(name):
                return None
            raise ConnectionNotYetKnown(
                f"connection {name!r} is not known to this service yet: its work waits until "
                f"ingest sends it (PUT /connections/{name} on ingest creates it)"
            )
        if access.deleted:
            raise ConnectionDisabled(
                f"connection {name!r} was deleted: its work is not done. Create it again on "
                f"ingest (PUT /connections/{name}) and replay the order if it should be"
            )
        if not access.enabled:
            raise ConnectionDisabled(
                f"connection {name!r} is disabled: enable it on ingest "
                f"(PUT /connections/{name} with enabled true), then replay the order"
            )
        if access.unreadable:
            raise SealError(
                f"connection {name!r}: its secrets cannot be opened with the keys in "
                "LEDGERBRIDGE_SECRETS_KEY; add the key they were sealed with, then replay"
            )
        return access

    async def handle_changed(self, event: ConnectionChanged, uow: UnitOfWork) -> None:
        """Keep the newest revision (a resend of the same revision may carry a resealed value)."""
        async with uow.commit() as session:
            copy = await merge_copy(session, event)
        if copy is not None:
            self.apply(copy)


async def merge_copy(session: AsyncSession, event: ConnectionChanged) -> ConnectionCopy | None:
    """Write the copy unless a newer revision is held; returns what was written."""
    held = await session.get(ConnectionCopy, event.name)
    if held is not None and held.revision > event.revision:
        return None
    copy = copy_of(event)
    await session.merge(copy)
    return copy
