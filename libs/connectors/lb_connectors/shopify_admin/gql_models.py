"""Typed results of the GraphQL Admin API calls ledgerbridge makes (only the fields it reads).

Ids are kept as Shopify gives them (GIDs); `gids.number` turns one into the number our tables
store.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


class GqlModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class LocationAddress(GqlModel):
    city: str | None = None
    country_code: str | None = Field(default=None, alias="countryCode")


class Location(GqlModel):
    id: str
    legacy_resource_id: str = Field(alias="legacyResourceId")
    name: str = ""
    is_active: bool = Field(default=True, alias="isActive")
    address: LocationAddress = LocationAddress()

    @field_validator("legacy_resource_id", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


class BulkStatus(enum.StrEnum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


class BulkOperation(GqlModel):
    id: str
    status: BulkStatus
    error_code: str | None = Field(default=None, alias="errorCode")
    object_count: int = Field(default=0, alias="objectCount")
    root_object_count: int = Field(default=0, alias="rootObjectCount")
    url: str | None = None
    partial_data_url: str | None = Field(default=None, alias="partialDataUrl")
    created_at: datetime | None = Field(default=None, alias="createdAt")
    completed_at: datetime | None = Field(default=None, alias="completedAt")

    @field_validator("object_count", "root_object_count", mode="before")
    @classmethod
    def _count(cls, value: object) -> object:
        return int(value) if isinstance(value, str) else value

    @property
    def done(self) -> bool:
        return self.status not in (BulkStatus.CREATED, BulkStatus.RUNNING, BulkStatus.CANCELING)


class WebhookSubscription(GqlModel):
    id: str
    topic: str
    uri: str | None = None
    format: str | None = None


class UserError(GqlModel):
    code: str | None = None
    field: tuple[str, ...] | None = None
    message: str


@dataclass(frozen=True)
class VariantStock:
    """One variant from a bulk stock read, with its item's `available` at each location."""

    variant_id: str  # GID
    sku: str | None
    title: str  # "Product / Variant", or the product title for a default variant
    inventory_item_id: str  # GID
    tracked: bool
    available: dict[str, int | None] = field(default_factory=dict)  # location GID → quantity


@dataclass(frozen=True)
class QuantityChange:
    """Set `inventory_item_id` at `location_id` to `quantity` if it still shows `change_from`
    (None: no check; only when we have no figure to compare)."""

    inventory_item_id: str  # number or GID
    location_id: str  # number or GID
    quantity: int
    change_from: int | None


@dataclass
class SetOutcome:
    """What an `inventorySetQuantities` run did, per change."""

    applied: list[QuantityChange] = field(default_factory=list)
    # The shop's figure moved since we read it: not written, to be reported.
    stale: list[QuantityChange] = field(default_factory=list)
    # Refused for another reason (item gone, not stocked at the location, ...): change, reason.
    refused: list[tuple[QuantityChange, str]] = field(default_factory=list)
