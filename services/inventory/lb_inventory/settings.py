from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lb_common.settings import ServiceSettings


class InventorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERBRIDGE_INVENTORY_", extra="ignore")

    port: int = 8004
    # How often the background job looks for connections whose full sync is due.
    sync_check_seconds: float = 30.0
    # How long a reading of a product's stock serves after a booking, less the units booked
    # since, before the next booking reads it again (docs/inventory-stock-sync.md; 0: read
    # after every booking).
    stock_read_seconds: float = Field(default=60.0, ge=0)
