"""Which KeapClient serves which connection: one per Keap base URL and API key, from the
connection's sealed shop access (PUT /connections/{name} with shop.admin_url, e.g.
https://api.infusionsoft.com/crm/rest, and shop.admin_token, a service account key)."""

from __future__ import annotations

import httpx

from lb_common.connection_copies import ConnectionBook
from lb_common.settings import CommonSettings
from lb_connectors.call_retry import call_retry

from .client import KeapClient
from .errors import KeapAuthError


class KeapDirectory:
    def __init__(
        self,
        settings: CommonSettings,
        book: ConnectionBook,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        requests_per_minute: int = 240,
    ) -> None:
        self._settings = settings
        self._book = book
        self._transport = transport
        self._per_minute = requests_per_minute
        self._clients: dict[tuple[str, str], KeapClient] = {}

    def for_connection(self, connection: str) -> KeapClient:
        access = self._book.resolve(connection)
        if access is None or access.shop is None:
            raise KeapAuthError(
                f"connection {connection!r} has no Keap API access: PUT /connections/"
                f"{connection} with shop.admin_url (Keap's REST address) and shop.admin_token "
                "(a service account key)"
            )
        key = (access.shop.admin_url, access.shop.token)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = KeapClient(
                access.shop.admin_url,
                access.shop.token,
                requests_per_minute=self._per_minute,
                transport=self._transport,
                retry=call_retry(self._settings),
            )
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
