"""Which ledger client serves which connection: one EconomicClient (one pool) per agreement.

Today every connection of a deployment books into the agreement configured by
`LEDGERBRIDGE_ECONOMIC_*`; per-connection agreements plug in here without touching callers.
"""

from __future__ import annotations

import httpx

from lb_common.settings import CommonSettings
from lb_connectors.call_retry import call_retry
from lb_connectors.economic.client import EconomicClient


class LedgerDirectory:
    def __init__(
        self, settings: CommonSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._clients: dict[tuple[str, str], EconomicClient] = {}

    def for_connection(self, connection: str) -> EconomicClient:
        s = self._settings
        key = (s.economic_base_url, s.economic_agreement_grant_token.get_secret_value())
        client = self._clients.get(key)
        if client is None:
            client = EconomicClient(
                s.economic_base_url,
                s.economic_app_secret_token.get_secret_value(),
                s.economic_agreement_grant_token.get_secret_value(),
                transport=self._transport,
                retry=call_retry(s),
            )
            self._clients[key] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
