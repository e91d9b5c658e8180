"""Which ledger client serves which connection: one EconomicClient (one HTTP pool, one pacer) per
agreement, shared by every connection that books into that agreement.

A connection's ledger is a `kind` plus that kind's credentials (LEDGER_KINDS), from the
service's copy of the connection (lb_common/connection_copies.py). A connection without
credentials of its own uses the agreement configured by `LEDGERBRIDGE_ECONOMIC_*` (the demo and
single-connection deployments), where `LEDGERBRIDGE_ENVIRONMENT_CONNECTIONS` allows it.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from lb_common.connection_copies import ConnectionBook
from lb_common.errors import Contention, PermanentError
from lb_common.ledger_calls import CallTally, agreement_key
from lb_common.settings import CommonSettings
from lb_connectors.call_retry import call_retry
from lb_connectors.economic.client import EconomicClient


class EconomicCredentials(BaseModel):
    """An e-conomic agreement: the app's secret token and the agreement's grant token."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    base_url: str = "https://restapi.e-conomic.com"
    app_secret_token: SecretStr
    agreement_grant_token: SecretStr


class ConnectionWithoutLedger(Contention):
    """A known connection with no ledger of its own, which may not use the environment's: its
    agreement is being connected (the grant flow) or its copy here is older than the grant.
    Retried; parked with this reason if no agreement arrives."""


#: Ledger kind → the credentials it needs (validated when a connection is saved).
LEDGER_KINDS: dict[str, type[BaseModel]] = {"economic": EconomicCredentials}


class LedgerDirectory:
    def __init__(
        self,
        settings: CommonSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        book: ConnectionBook | None = None,
        tally: CallTally | None = None,
    ) -> None:
        self._settings = settings
        self._tally = tally  # counts every call per agreement and day, if given
        self._transport = transport
        self._book = book
        # Keyed by agreement (base URL, grant token) and app token: one pool, one pacer each.
        self._clients: dict[tuple[str, str, str], EconomicClient] = {}

    def credentials_for(self, connection: str) -> EconomicCredentials:
        access = self._book.resolve(connection) if self._book is not None else None
        if access is not None and access.ledger is None:
            if not self._settings.may_use_environment(connection):
                raise ConnectionWithoutLedger(
                    f"connection {connection!r} has no ledger yet: connect its agreement on "
                    f"ingest (POST /connections/{connection}/economic/grant, or PUT "
                    f"/connections/{connection} with a ledger); its orders wait for it, then "
                    "replay any that were parked"
                )
        if access is None or access.ledger is None:
            s = self._settings
            return EconomicCredentials(
                base_url=s.economic_base_url,
                app_secret_token=s.economic_app_secret_token,
                agreement_grant_token=s.economic_agreement_grant_token,
            )
        if access.ledger.kind != "economic":
            raise PermanentError(
                f"connection {connection!r} books into a {access.ledger.kind!r} ledger, which "
                "this release cannot reach"
            )
        return EconomicCredentials.model_validate(dict(access.ledger.credentials))

    def for_connection(self, connection: str) -> EconomicClient:
        c = self.credentials_for(connection)
        app, grant = (
            c.app_secret_token.get_secret_value(),
            c.agreement_grant_token.get_secret_value(),
        )
        key = (c.base_url, grant, app)
        client = self._clients.get(key)
        if client is None:
            client = EconomicClient(
                c.base_url,
                app,
                grant,
                transport=self._transport,
                retry=call_retry(self._settings),
                post_replay=self._settings.economic_post_replay,
                on_call=(
                    self._tally.counter_for(agreement_key(c.base_url, grant))
                    if self._tally is not None
                    else None
                ),
            )
            self._clients[key] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
