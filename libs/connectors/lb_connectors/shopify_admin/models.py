"""Typed views of Shopify Admin REST resources (only the fields ledgerbridge reads)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_validator


class ShopifyModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ShopVariant(ShopifyModel):
    id: int
    product_id: int
    title: str = ""
    sku: str | None = None
    inventory_item_id: int
    inventory_management: str | None = None
    inventory_quantity: int | None = None

    @field_validator("sku")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        return value or None


class ShopProduct(ShopifyModel):
    id: int
    title: str = ""
    status: str | None = None
    variants: tuple[ShopVariant, ...] = ()


class ShopLocation(ShopifyModel):
    id: int
    name: str = ""
    active: bool = True
    city: str | None = None
    country_code: str | None = None


class InventoryLevel(ShopifyModel):
    inventory_item_id: int
    location_id: int
    available: int | None = None  # None: the item is not tracked
    updated_at: datetime | None = None
