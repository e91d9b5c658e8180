"""In-memory shops. Each distinct X-Shopify-Access-Token value is one isolated, seeded shop.

Handlers mutate state without awaiting in between, so each request runs atomically on the loop.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .graphql_cost import PointsBucket

Entity = dict[str, Any]


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@dataclass
class Shop:
    token: str
    products: dict[int, Entity] = field(default_factory=dict)
    locations: dict[int, Entity] = field(default_factory=dict)
    # (inventory_item_id, location_id) → level
    levels: dict[tuple[int, int], Entity] = field(default_factory=dict)
    orders: dict[int, Entity] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_000_001))
    # GraphQL Admin API: the points bucket, bulk operations by number, answers by idempotency
    # key, webhook subscriptions by number, and faults asked for by tests (kind → times).
    points: PointsBucket = field(default_factory=lambda: PointsBucket(2000, 100))
    bulk_operations: dict[int, Entity] = field(default_factory=dict)
    idempotent: dict[str, tuple[str, Any]] = field(default_factory=dict)
    webhook_subscriptions: dict[int, Entity] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    # inventory_item_id → (product, variant), kept by add_product
    items: dict[int, tuple[Entity, Entity]] = field(default_factory=dict)

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
        product: Entity = {
            "id": product_id,
            "title": title,
            "status": "active",
            "created_at": stamp,
            "updated_at": stamp,
            "variants": made,
            "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
        }
        self.products[product_id] = product
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
            self.items[item_id] = (product, made[-1])
            available = spec.get("available")
            if available is not None and self.locations:
                self.set_level(item_id, next(iter(self.locations)), int(available))
        return product

    def variants(self) -> list[tuple[Entity, Entity]]:
        """(product, variant) pairs in id order."""
        return [
            (p, v) for k in sorted(self.products) for p in [self.products[k]] for v in p["variants"]
        ]

    def item_exists(self, item_id: int) -> bool:
        return item_id in self.items

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
        found = self.items.get(item_id)
        if found is not None:
            found[1]["inventory_quantity"] = sum(
                self.levels[(item_id, loc)]["available"] or 0
                for loc in self.locations
                if (item_id, loc) in self.levels
            )
        return level

    def snapshot(self) -> dict[str, Any]:
        return {
            "locations": list(self.locations.values()),
            "products": list(self.products.values()),
            "inventory_levels": list(self.levels.values()),
            "orders": list(self.orders.values()),
            "webhook_subscriptions": [
                self.webhook_subscriptions[k] for k in sorted(self.webhook_subscriptions)
            ],
        }


class ShopRegistry:
    def __init__(
        self,
        *,
        points_maximum: float = 2000.0,
        points_restore_rate: float = 100.0,
    ) -> None:
        self._shops: dict[str, Shop] = {}
        self._points = (points_maximum, points_restore_rate)
        # Finished bulk results by the random name in their URL (no token in a result URL).
        self.bulk_results: dict[str, bytes] = {}

    def get_or_create(self, token: str) -> Shop:
        shop = self._shops.get(token)
        if shop is None:
            from .seed import seed  # local: seed imports Shop

            shop = Shop(
                token=token,
                points=PointsBucket(*self._points),
            )
            seed(shop)
            self._shops[token] = shop
        return shop

    def reset(self, token: str | None = None) -> int:
        if token is None:
            count = len(self._shops)
            self._shops.clear()
            return count
        return 1 if self._shops.pop(token, None) is not None else 0
