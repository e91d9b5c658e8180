"""Webshop platform adapters: webhook delivery → canonical orders, refunds and stock levels."""

from .base import (
    DEFAULT_FIELDS,
    CustomerFieldMap,
    DeliveryInfo,
    InventoryLevel,
    MissingHeaderError,
    PayloadError,
    PlatformAdapter,
    TopicKind,
)
from .registry import ADAPTERS, UnknownPlatformError, get_adapter
from .shopify import ShopifyAdapter, shopify
from .woocommerce import WooCommerceAdapter, woocommerce

__all__ = [
    "ADAPTERS",
    "DEFAULT_FIELDS",
    "CustomerFieldMap",
    "DeliveryInfo",
    "InventoryLevel",
    "MissingHeaderError",
    "PayloadError",
    "PlatformAdapter",
    "ShopifyAdapter",
    "TopicKind",
    "UnknownPlatformError",
    "WooCommerceAdapter",
    "get_adapter",
    "shopify",
    "woocommerce",
]
