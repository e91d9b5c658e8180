"""Webshop platform adapters: webhook delivery → canonical orders, refunds and stock levels."""

from .base import (
    DEFAULT_FIELDS,
    CustomerFieldMap,
    DeliveryInfo,
    InventoryLevel,
    MissingHeaderError,
    Notification,
    NotifiedObject,
    NotifyingPlatform,
    PayloadError,
    PlatformAdapter,
    TopicKind,
    notifying,
)
from .keap import KeapAdapter, keap
from .registry import ADAPTERS, UnknownPlatformError, get_adapter
from .shopify import ShopifyAdapter, shopify
from .woocommerce import WooCommerceAdapter, woocommerce

__all__ = [
    "ADAPTERS",
    "DEFAULT_FIELDS",
    "CustomerFieldMap",
    "DeliveryInfo",
    "InventoryLevel",
    "KeapAdapter",
    "MissingHeaderError",
    "Notification",
    "NotifiedObject",
    "NotifyingPlatform",
    "PayloadError",
    "PlatformAdapter",
    "ShopifyAdapter",
    "TopicKind",
    "UnknownPlatformError",
    "WooCommerceAdapter",
    "get_adapter",
    "keap",
    "notifying",
    "shopify",
    "woocommerce",
]
