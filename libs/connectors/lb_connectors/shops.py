"""Which shop Admin API client serves which connection: one ShopifyGraphQLClient (one pool, one
cost pacer) per shop.

Today every connection of a deployment reaches the shop configured by `LEDGERBRIDGE_SHOPIFY_*`;
per-connection shops plug in here without touching callers.
"""

from __future__ import annotations

import httpx

from lb_common.settings import CommonSettings
from lb_connectors.call_retry import call_retry
from lb_connectors.shopify_admin import ShopifyGraphQLClient


class ShopDirectory:
    def __init__(
        self, settings: CommonSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._clients: dict[tuple[str, str], ShopifyGraphQLClient] = {}

    def for_connection(self, connection: str) -> ShopifyGraphQLClient:
        s = self._settings
        key = (s.shopify_admin_base_url, s.shopify_access_token.get_secret_value())
        client = self._clients.get(key)
        if client is None:
            client = ShopifyGraphQLClient(
                s.shopify_admin_base_url,
                s.shopify_access_token.get_secret_value(),
                api_version=s.shopify_api_version,
                plan=s.shopify_plan,
                transport=self._transport,
                retry=call_retry(s),
            )
            self._clients[key] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
