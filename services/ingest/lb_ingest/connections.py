"""Shop connections (one shop plus one ledger, docs: DESIGN.md "Connections") as ingest owns them:
their settings validated, stored as JSON on the row, and cached for webhooks. Not to be confused
with a database connection, which ingest's code calls `conn`."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from lb_common.db import Database
from lb_connectors.platforms.base import CustomerFieldMap
from lb_ingest.store import ShopConnection
from lb_ingest.transfer import TransferSettings


class IngestConnectionSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    transfer: TransferSettings = TransferSettings()
    customer_fields: CustomerFieldMap = CustomerFieldMap()
    # The shop's own domain (my-shop.myshopify.com): order keys use it, reconciliation needs it.
    shop_domain: str | None = None


def settings_of(shop_connection: ShopConnection) -> IngestConnectionSettings:
    return IngestConnectionSettings.model_validate(shop_connection.settings or {})


def public_view(shop_connection: ShopConnection) -> dict[str, object]:
    """What the admin API shows: everything but the secrets (only how many there are)."""
    return {
        "name": shop_connection.name,
        "platform": shop_connection.platform,
        "enabled": shop_connection.enabled,
        "secrets_configured": len(shop_connection.secrets),
        "settings": settings_of(shop_connection).model_dump(mode="json"),
    }


@dataclass(frozen=True)
class ActiveConnection:
    """A shop connection as webhooks use it: the row's values, with its settings validated once
    (validating them per webhook cost more than verifying the signature)."""

    name: str
    platform: str
    secrets: tuple[str, ...]
    enabled: bool
    settings: IngestConnectionSettings

    @classmethod
    def of(cls, row: ShopConnection) -> ActiveConnection:
        return cls(row.name, row.platform, tuple(row.secrets), row.enabled, settings_of(row))


class ConnectionCache:
    """Shop connections read on every webhook, cached briefly: a change made through this process's
    API applies at once, one made through another replica within `ttl` seconds."""

    def __init__(self, db: Database, ttl: float = 5.0) -> None:
        self._db = db
        self._ttl = ttl
        self._entries: dict[str, tuple[float, ActiveConnection | None]] = {}

    async def get(self, name: str) -> ActiveConnection | None:
        now = time.monotonic()
        cached = self._entries.get(name)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        async with self._db.session() as session:
            row = await session.get(ShopConnection, name)
        shop_connection = ActiveConnection.of(row) if row is not None else None
        self._entries[name] = (now, shop_connection)
        return shop_connection

    def forget(self, name: str) -> None:
        self._entries.pop(name, None)
