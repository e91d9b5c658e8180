"""Which ledger serves which connection: one adapter (one HTTP pool, one pacer) per set of
credentials that may share one (an e-conomic agreement, a QuickBooks company), shared by every
connection that books into it.

A connection's ledger is a `kind` plus that kind's credentials, from the service's copy of the
connection (lb_common/connection_copies.py); the kind picks the adapter in the registry
(lb_connectors/ledger/registry.py). A connection without credentials of its own uses the
e-conomic agreement configured by `LEDGERBRIDGE_ECONOMIC_*` (the demo and single-connection
deployments), where `LEDGERBRIDGE_ENVIRONMENT_CONNECTIONS` allows it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import httpx
from pydantic import BaseModel

from lb_common.connection_copies import ConnectionBook
from lb_common.errors import Contention, PermanentError
from lb_common.ledger_calls import CallTally
from lb_common.settings import CommonSettings
from lb_connectors.ledger.port import Ledger
from lb_connectors.ledger.registry import (
    ADAPTERS,
    AdapterContext,
    LedgerKind,
    credential_models,
    ledger_kind,
)

if TYPE_CHECKING:
    from lb_connectors.economic.client import EconomicClient

ENVIRONMENT_KIND = "economic"  # what `LEDGERBRIDGE_ECONOMIC_*` configures


class ConnectionWithoutLedger(Contention):
    """A known connection with no ledger of its own, which may not use the environment's: its
    agreement is being connected (the grant flow) or its copy here is older than the grant.
    Retried; parked with this reason if no agreement arrives."""


class _Kinds(Mapping[str, type[BaseModel]]):
    """Ledger kind → the credentials it needs (validated when a connection is saved), read
    from the registry when first asked (so importing this module imports no adapter)."""

    def __getitem__(self, kind: str) -> type[BaseModel]:
        return credential_models()[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(ADAPTERS)

    def __len__(self) -> int:
        return len(ADAPTERS)


LEDGER_KINDS: Mapping[str, type[BaseModel]] = _Kinds()


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
        # `tally` counts every ledger call per agreement and day (the console's budget).
        self._context = AdapterContext(settings=settings, transport=transport, tally=tally)
        self._book = book
        # Keyed by kind and the kind's pool key: one adapter (pool, pacer) each.
        self._ledgers: dict[tuple[str, ...], Ledger] = {}

    def kind_for(self, connection: str) -> tuple[LedgerKind, BaseModel]:
        """The connection's ledger kind and its credentials."""
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
            kind = ledger_kind(ENVIRONMENT_KIND)
            s = self._settings
            return kind, kind.credentials.model_validate(
                {
                    "base_url": s.economic_base_url,
                    "app_secret_token": s.economic_app_secret_token,
                    "agreement_grant_token": s.economic_agreement_grant_token,
                }
            )
        kind = ledger_kind(access.ledger.kind)
        return kind, kind.credentials.model_validate(dict(access.ledger.credentials))

    def credentials_for(self, connection: str) -> BaseModel:
        return self.kind_for(connection)[1]

    def ledger(self, connection: str) -> Ledger:
        """The connection's ledger behind the port: what services use."""
        kind, credentials = self.kind_for(connection)
        key = (kind.kind, *kind.pool_key(credentials))
        ledger = self._ledgers.get(key)
        if ledger is None:
            ledger = self._ledgers[key] = kind.open(credentials, self._context)
        return ledger

    def for_connection(self, connection: str) -> EconomicClient:
        """The e-conomic client of a connection booking into e-conomic: only for code that
        still speaks e-conomic's own API (the adapter's package, and what docs/ledger-port.md
        lists as not yet behind the port)."""
        from lb_connectors.economic.ledger import EconomicLedger

        ledger = self.ledger(connection)
        if not isinstance(ledger, EconomicLedger):
            raise PermanentError(
                f"connection {connection!r} books into a {ledger.kind!r} ledger, which this "
                "part of ledgerbridge cannot reach yet"
            )
        return ledger.client

    async def aclose(self) -> None:
        for ledger in self._ledgers.values():
            await ledger.aclose()
        self._ledgers.clear()
