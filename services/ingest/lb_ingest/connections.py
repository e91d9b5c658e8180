"""A connection's settings as ingest owns them (validated; stored as JSON on the row)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from lb_connectors.platforms.base import CustomerFieldMap
from lb_ingest.store import Connection
from lb_ingest.transfer import TransferSettings


class IngestConnectionSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    transfer: TransferSettings = TransferSettings()
    customer_fields: CustomerFieldMap = CustomerFieldMap()


def settings_of(connection: Connection) -> IngestConnectionSettings:
    return IngestConnectionSettings.model_validate(connection.settings or {})


def public_view(connection: Connection) -> dict[str, object]:
    """What the admin API shows: everything but the secrets (only how many there are)."""
    return {
        "name": connection.name,
        "platform": connection.platform,
        "enabled": connection.enabled,
        "secrets_configured": len(connection.secrets),
        "settings": settings_of(connection).model_dump(mode="json"),
    }
