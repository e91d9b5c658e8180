"""Async client for Shopify's GraphQL Admin API (the parts ledgerbridge uses)."""

from .cost import CostPacer
from .errors import (
    ShopifyAuthError,
    ShopifyError,
    ShopifyRateLimited,
    ShopifyRejected,
    ShopifyUnavailable,
)
from .gql_models import BulkOperation, Location, QuantityChange, SetOutcome, VariantStock
from .graphql_client import ShopifyGraphQLClient
from .versions import API_VERSION, webhook_version_warning

__all__ = [
    "API_VERSION",
    "BulkOperation",
    "CostPacer",
    "Location",
    "QuantityChange",
    "SetOutcome",
    "ShopifyAuthError",
    "ShopifyError",
    "ShopifyGraphQLClient",
    "ShopifyRateLimited",
    "ShopifyRejected",
    "ShopifyUnavailable",
    "VariantStock",
    "webhook_version_warning",
]
