"""Per-connection stock sync settings (stored as JSON in `stock_settings`, edited via the admin API)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StockSyncSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Off until an operator turns it on: the shop's stock is only written when this is true.
    enabled: bool = False
    # The shop location whose `available` quantity follows the ledger (Shopify location id).
    location_id: str | None = Field(default=None, pattern=r"^\d+$")
    full_sync_interval_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Shop variants without a SKU: left out of the mismatch report, or listed in it.
    products_without_sku: Literal["ignore", "report"] = "report"
    # A level the shop reports that differs from the ledger: reported (false) or overwritten
    # with the ledger's level at once (true).
    ledger_always_wins: bool = False

    @model_validator(mode="after")
    def _location_when_enabled(self) -> Self:
        if self.enabled and not self.location_id:
            raise ValueError("location_id is required when stock sync is enabled")
        return self


DEFAULT_SETTINGS = StockSyncSettings()
