"""In-memory shops. Each distinct X-Shopify-Access-Token value is one isolated, seeded shop.

Handlers mutate state without awaiting in between, so each request runs atomically on the loop.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .bucket import LeakyBucket

Entity = dict[str, Any]


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@dataclass
class Shop:
    token: str
    bucket: LeakyBucket
    products: dict[int, Entity] = field(default_factory=dict)
    locations: dict[int, Entity] = field(default_factory=dict)
    # (inventory_item_id, location_id) → level
    levels: dict[tuple[int, int], Entity] = field(default_factory=dict)
    orders: dict[int, Entity] = field(default_factory=dict)
    # Forced 429s (for tests): how many more requests to refuse, and the Retry-After to send.
    throttle_times: int = 0
    throttle_retry_after: float = 1.0
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_000_001))

    def next_id(self) -> int:
        return next(self.ids)

    def add_location(self, name: str, *, city: str = "København") -> Entity:
        """A location with the fields of Shopify's REST Location resource (unset ones null)."""
        location_id = self.next_id()
        stamp = now_text()
        location = {
            "id": location_id,
            "name": name,
            "address1": None,
            "address2": None,
            "city": city,
            "zip": None,
            "province": None,
            "country": "DK",
            "phone": None,
            "created_at": stamp,
            "updated_at": stamp,
            "country_code": "DK",
            "country_name": "Denmark",
            "province_code": None,
            "legacy": False,
            "active": True,
            "admin_graphql_api_id": f"gid://shopify/Location/{location_id}",
            "localized_country_name": "Denmark",
            "localized_province_name": None,
        }
        self.locations[location_id] = location
        return location

    def add_product(self, title: str, variants: list[Entity]) -> Entity:
        """`variants`: [{"sku": str | None, "title"?: str, "available"?: int, "price"?: str}].
        Levels are set at the first location for variants that give `available`."""
        product_id = self.next_id()
        stamp = now_text()
        made: list[Entity] = []
        for position, spec in enumerate(variants, start=1):
            variant_id, item_id = self.next_id(), self.next_id()
            made.append(
                {
                    "id": variant_id,
                    "product_id": product_id,
                    "title": spec.get("title", "Default Title"),
                    "sku": spec.get("sku") or "",
                    "price": str(spec.get("price", "0.00")),
                    "position": position,
                    "inventory_item_id": item_id,
                    "inventory_management": "shopify",
                    "inventory_quantity": 0,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "admin_graphql_api_id": f"gid://shopify/ProductVariant/{variant_id}",
                }
            )
            available = spec.get("available")
            if available is not None and self.locations:
                self.set_level(item_id, next(iter(self.locations)), int(available))
        product = {
            "id": product_id,
            "title": title,
            "status": "active",
            "created_at": stamp,
            "updated_at": stamp,
            "variants": made,
            "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
        }
        self.products[product_id] = product
        return product

    def item_exists(self, item_id: int) -> bool:
        return any(
            v["inventory_item_id"] == item_id for p in self.products.values() for v in p["variants"]
        )

    def set_level(self, item_id: int, location_id: int, available: int) -> Entity:
        level = {
            "inventory_item_id": item_id,
            "location_id": location_id,
            "available": available,
            "updated_at": now_text(),
            "admin_graphql_api_id": (
                f"gid://shopify/InventoryLevel/{location_id}?inventory_item_id={item_id}"
            ),
        }
        self.levels[(item_id, location_id)] = level
        for product in self.products.values():
            for variant in product["variants"]:
                if variant["inventory_item_id"] == item_id:
                    variant["inventory_quantity"] = sum(
                        lv["available"] or 0 for (i, _), lv in self.levels.items() if i == item_id
                    )
        return level

    def snapshot(self) -> dict[str, Any]:
        return {
            "locations": list(self.locations.values()),
            "products": list(self.products.values()),
            "inventory_levels": list(self.levels.values()),
            "orders": list(self.orders.values()),
        }


class ShopRegistry:
    def __init__(self, *, bucket_capacity: int = 40, leak_per_second: float = 2.0) -> None:
        self._shops: dict[str, Shop] = {}
        self._capacity = bucket_capacity
        self._leak = leak_per_second

    def get_or_create(self, token: str) -> Shop:
        shop = self._shops.get(token)
        if shop is None:
            from .seed import seed  # local: seed imports Shop

            shop = Shop(token=token, bucket=LeakyBucket(self._capacity, self._leak))
            seed(shop)
            self._shops[token] = shop
        return shop

    def reset(self, token: str | None = None) -> int:
        if token is None:
            count = len(self._shops)
            self._shops.clear()
            return count
        return 1 if self._shops.pop(token, None) is not None else 0
