from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from lb_common.settings import ServiceSettings


class InventorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERBRIDGE_INVENTORY_", extra="ignore")

    port: int = 8004
    # How often the background job looks for connections whose full sync is due.
    sync_check_seconds: float = 30.0
