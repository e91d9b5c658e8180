"""Platform name → adapter. Adding a platform: write its module, add one line here."""

from __future__ import annotations

from collections.abc import Mapping

from .base import PlatformAdapter
from .keap import keap
from .shopify import shopify
from .woocommerce import woocommerce

ADAPTERS: Mapping[str, PlatformAdapter] = {
    shopify.platform: shopify,
    woocommerce.platform: woocommerce,
    keap.platform: keap,
}


class UnknownPlatformError(LookupError):
    pass


def get_adapter(platform: str) -> PlatformAdapter:
    try:
        return ADAPTERS[platform.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise UnknownPlatformError(f"unknown platform {platform!r} (known: {known})") from None
