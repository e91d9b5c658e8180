"""Per-connection stock sync settings (stored as JSON in `stock_settings`, edited via the admin API)."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_LOCATION_GID = re.compile(r"^gid://shopify/Location/(\d+)$")


def location_number(value: object) -> str | None:
    """A Shopify location id as the REST API's number, from a number, digits or a GID."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and int(text) > 0:
            return text
        gid = _LOCATION_GID.match(text)
        if gid:
            return gid.group(1)
    raise ValueError(
        f"location_id {value!r} is not a Shopify location: give its number (e.g. 61234567890) "
        "or its gid://shopify/Location/… id; GET /locations lists the shop's locations"
    )


class StockSyncSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Off until an operator turns it on: the shop's stock is only written when this is true.
    enabled: bool = False
    # The shop location whose `available` quantity follows the ledger: Shopify's location id,
    # as a number, a string of digits or a GID (gid://shopify/Location/…); kept as digits.
    # `GET /locations` lists the shop's locations.
    location_id: str | None = None
    full_sync_interval_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Shop variants without a SKU: left out of the mismatch report, or listed in it.
    products_without_sku: Literal["ignore", "report"] = "report"
    # A level the shop reports that differs from the ledger: reported (false) or overwritten
    # with the ledger's level at once (true).
    ledger_always_wins: bool = False

    @field_validator("location_id", mode="before")
    @classmethod
    def _location_number(cls, value: object) -> object:
        return location_number(value)

    @model_validator(mode="after")
    def _location_when_enabled(self) -> Self:
        if self.enabled and not self.location_id:
            raise ValueError("location_id is required when stock sync is enabled")
        return self


DEFAULT_SETTINGS = StockSyncSettings()
