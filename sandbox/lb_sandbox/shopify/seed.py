"""A new shop: one location and the two stocked products the e-conomic sandbox also has."""

from __future__ import annotations

from .state import Shop


def seed(shop: Shop) -> None:
    shop.add_location("Main warehouse")
    shop.add_product("T-shirt", [{"sku": "TSHIRT-RED-M", "title": "Red / M", "available": 50}])
    shop.add_product("Mug", [{"sku": "MUG-BLACK", "title": "Black", "available": 20}])
