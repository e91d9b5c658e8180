"""Shop connections (one shop plus one ledger, docs: DESIGN.md "Connections") as ingest owns them:
created and changed here only (`PUT /connections/{name}`), their settings validated and stored as
JSON on the row, their secrets sealed (lb_common/sealing.py), and sent to every other service as
`connection.changed` through the outbox (lb_common/connection_copies.py keeps their copies).
Not to be confused with a database connection, which ingest's code calls `conn`.

What is sealed on the row: the webhook secrets (several during a rotation), the shop's Admin API
access and the ledger's credentials. The message carries the last two only, sealed again: the
webhook secrets never leave ingest. Every change raises the row's `revision`; a copy keeps the
highest it has seen, so an old message never undoes a newer change.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.connection_copies import ConnectionCopy, merge_copy
from lb_common.db import Database
from lb_common.envelope import Envelope
from lb_common.events import ConnectionChanged
from lb_common.outbox import add_to_outbox
from lb_common.sealing import SecretBox
from lb_common.work_loop import every
from lb_connectors.platforms.base import CustomerFieldMap
from lb_ingest.store import ShopConnection
from lb_ingest.transfer import TransferSettings

log = logging.getLogger(__name__)


class IngestConnectionSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    transfer: TransferSettings = TransferSettings()
    customer_fields: CustomerFieldMap = CustomerFieldMap()
    # The shop's own domain (my-shop.myshopify.com): order keys use it, reconciliation needs it.
    shop_domain: str | None = None
    # Keap: subscribe to its delete hooks, and cancel (or credit to its total) an order Keap
    # deleted. Off by default: a Keap user may delete old orders to tidy up, not to credit them.
    keap_deletions: bool = False


class ShopAccessUpdate(BaseModel):
    """The shop's Admin API: where it is and the app's access token (write-only)."""

    model_config = ConfigDict(extra="forbid")
    admin_url: str = Field(
        description="The Admin API's base address, e.g. https://my-shop.myshopify.com (the "
        "client adds /admin/api/<version>/graphql.json)"
    )
    admin_token: SecretStr = Field(description="Write-only: the Admin API access token.")


class LedgerUpdate(BaseModel):
    """The ledger: its kind and that kind's credentials (write-only). e-conomic: base_url
    (optional), app_secret_token, agreement_grant_token."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    credentials: dict[str, SecretStr] = Field(description="Write-only.")


def settings_of(shop_connection: ShopConnection) -> IngestConnectionSettings:
    return IngestConnectionSettings.model_validate(shop_connection.settings or {})


def opened(box: SecretBox, row: ShopConnection) -> dict[str, Any]:
    """The row's secrets: {webhook_secrets: [...], shop: {...} | None, ledger: {...} | None}.
    Clear-text secrets of a row written before sealing existed count until `reseal_all`."""
    found: dict[str, Any] = box.open(row.sealed) if row.sealed else {}
    found.setdefault("webhook_secrets", [])
    if row.secrets:
        found["webhook_secrets"] = [*row.secrets, *found["webhook_secrets"]]
    return found


def seal_into(box: SecretBox, row: ShopConnection, secrets: dict[str, Any]) -> None:
    row.sealed = box.seal(secrets)
    row.secrets = []


def public_view(box: SecretBox, row: ShopConnection) -> dict[str, object]:
    """What the admin API shows: everything but the secrets (only which ones are set)."""
    secrets = opened(box, row)
    shop, ledger = secrets.get("shop"), secrets.get("ledger")
    return {
        "name": row.name,
        "platform": row.platform,
        "enabled": row.enabled,
        "deleted_at": row.deleted_at,
        "revision": row.revision,
        "secrets_configured": len(secrets["webhook_secrets"]),
        "shop": (
            {"admin_url": shop["admin_url"], "admin_token_configured": True}
            if shop
            else "environment"
        ),
        "ledger": (
            {"kind": ledger["kind"], "credentials_configured": sorted(ledger["credentials"])}
            if ledger
            else "environment"
        ),
        "settings": settings_of(row).model_dump(mode="json"),
    }


def changed_event(box: SecretBox, row: ShopConnection) -> ConnectionChanged:
    secrets = opened(box, row)
    shared = {k: secrets[k] for k in ("shop", "ledger") if secrets.get(k)}
    return ConnectionChanged(
        name=row.name,
        revision=row.revision,
        platform=row.platform,
        enabled=row.enabled and row.deleted_at is None,
        deleted=row.deleted_at is not None,
        ledger_kind=shared["ledger"]["kind"] if "ledger" in shared else None,
        sealed=box.seal(shared) if shared else None,
    )


async def announce(
    session: AsyncSession, box: SecretBox, row: ShopConnection
) -> ConnectionCopy | None:
    """ingest's own copy and the message to every other service, in the caller's transaction."""
    event = changed_event(box, row)
    copy = await merge_copy(session, event)
    add_to_outbox(
        session,
        Envelope.wrap(
            event, connection=row.name, order_key=None, correlation_id=f"connection:{row.name}"
        ),
    )
    return copy


async def reseal_all(db: Database, box: SecretBox) -> int:
    """Seal every connection's secrets with the first key (clear-text ones of an older release
    too), and send every connection again so the other services' copies are resealed as well."""
    async with db.transaction() as session:
        rows = (await session.exec(select(ShopConnection).order_by(col(ShopConnection.name)))).all()
        for row in rows:
            if row.secrets or not row.sealed:
                seal_into(box, row, opened(box, row))
            else:
                row.sealed = box.reseal(row.sealed)
            session.add(row)
            await announce(session, box, row)
    log.info("connection secrets resealed", extra={"data": {"connections": len(rows)}})
    return len(rows)


async def resend_periodically(
    db: Database, box: SecretBox, interval: float, stop: asyncio.Event
) -> None:
    """Every connection again, now and every `interval` seconds: a service that lost its copy
    or joined later catches up (a copy keeps the highest revision, so this undoes nothing)."""

    async def resend() -> None:
        async with db.transaction() as session:
            for row in (await session.exec(select(ShopConnection))).all():
                await announce(session, box, row)

    await every(interval, stop, resend, what="sending the connections again", at_start=True)


@dataclass(frozen=True)
class ActiveConnection:
    """A shop connection as webhooks use it: the row's values, with its settings validated and
    its webhook secrets opened once (doing either per webhook cost more than verifying the
    signature)."""

    name: str
    platform: str
    secrets: tuple[str, ...]
    enabled: bool
    settings: IngestConnectionSettings

    def __repr__(self) -> str:  # never the secrets
        return f"ActiveConnection({self.name!r}, {self.platform!r}, enabled={self.enabled})"

    @classmethod
    def of(cls, row: ShopConnection, box: SecretBox) -> ActiveConnection:
        return cls(
            row.name,
            row.platform,
            tuple(opened(box, row)["webhook_secrets"]),
            row.enabled and row.deleted_at is None,
            settings_of(row),
        )


class ConnectionCache:
    """Shop connections read on every webhook, cached briefly: a change made through this process's
    API applies at once, one made through another replica within `ttl` seconds."""

    def __init__(self, db: Database, box: SecretBox, ttl: float = 5.0) -> None:
        self._db = db
        self._box = box
        self._ttl = ttl
        self._entries: dict[str, tuple[float, ActiveConnection | None]] = {}
        # One read per connection at a time: when an entry expires under load, the dozens of
        # webhooks waiting for it share one read instead of each making its own (py-spy under
        # bench/ingest_webhooks.py: those reads were a fifth of the web process's webhook CPU).
        self._reading: dict[str, asyncio.Future[ActiveConnection | None]] = {}
        self._forgotten = 0  # counts forget calls: a read begun before one is not kept

    async def get(self, name: str) -> ActiveConnection | None:
        cached = self._entries.get(name)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        reading = self._reading.get(name)
        if reading is None:
            reading = self._reading[name] = asyncio.ensure_future(self._read(name))
            reading.add_done_callback(functools.partial(self._read_done, name))
        return await asyncio.shield(reading)

    def _read_done(self, name: str, reading: asyncio.Future[ActiveConnection | None]) -> None:
        if self._reading.get(name) is reading:
            del self._reading[name]

    async def _read(self, name: str) -> ActiveConnection | None:
        now, forgotten = time.monotonic(), self._forgotten
        async with self._db.session() as session:
            row = await session.get(ShopConnection, name)
        shop_connection = ActiveConnection.of(row, self._box) if row is not None else None
        if forgotten == self._forgotten:
            self._entries[name] = (now, shop_connection)
        return shop_connection

    def forget(self, name: str) -> None:
        self._entries.pop(name, None)
        self._reading.pop(name, None)  # a read begun before the change may be stale
        self._forgotten += 1

    def forget_all(self) -> None:
        self._entries.clear()
        self._reading.clear()
        self._forgotten += 1
