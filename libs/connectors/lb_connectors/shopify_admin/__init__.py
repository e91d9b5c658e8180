"""Async client for the parts of Shopify's Admin REST API that ledgerbridge uses."""

from .client import ShopifyAdminClient
from .errors import (
    ShopifyAuthError,
    ShopifyError,
    ShopifyRateLimited,
    ShopifyRejected,
    ShopifyUnavailable,
)
from .models import InventoryLevel, ShopLocation, ShopProduct, ShopVariant
from .ratelimit import CallLimitPacer

__all__ = [
    "CallLimitPacer",
    "InventoryLevel",
    "ShopLocation",
    "ShopProduct",
    "ShopVariant",
    "ShopifyAdminClient",
    "ShopifyAuthError",
    "ShopifyError",
    "ShopifyRateLimited",
    "ShopifyRejected",
    "ShopifyUnavailable",
]
