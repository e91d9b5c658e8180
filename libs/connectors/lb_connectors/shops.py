"""Which shop Admin API client serves which connection: one ShopifyGraphQLClient (one pool, one
cost pacer) per shop (Admin URL and access token).

A connection's shop access comes from the service's copy of the connection
(lb_common/connection_copies.py). A connection without its own uses the shop configured by
`LEDGERBRIDGE_SHOPIFY_*`, where `LEDGERBRIDGE_ENVIRONMENT_CONNECTIONS` allows it.
"""

from __future__ import annotations

import httpx

from lb_common.connection_copies import ConnectionBook, ShopAccess
from lb_common.settings import CommonSettings
from lb_connectors.call_retry import call_retry
from lb_connectors.shopify_admin import ShopifyGraphQLClient


class ShopDirectory:
    def __init__(
        self,
        settings: CommonSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        book: ConnectionBook | None = None,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._book = book
        self._clients: dict[tuple[str, str], ShopifyGraphQLClient] = {}

    def access_for(self, connection: str) -> ShopAccess:
        access = self._book.resolve(connection) if self._book is not None else None
        if access is None or access.shop is None:
            s = self._settings
            return ShopAccess(s.shopify_admin_base_url, s.shopify_access_token.get_secret_value())
        return access.shop

    def uses_environment(self, connection: str) -> bool:
        access = self._book.get(connection) if self._book is not None else None
        return access is None or access.shop is None

    def for_connection(self, connection: str) -> ShopifyGraphQLClient:
        shop = self.access_for(connection)
        key = (shop.admin_url, shop.token)
        client = self._clients.get(key)
        if client is None:
            s = self._settings
            client = ShopifyGraphQLClient(
                shop.admin_url,
                shop.token,
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
