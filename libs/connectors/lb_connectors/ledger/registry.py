"""Ledger kinds: a connection's `ledger.kind` → the adapter that serves it.

Adding a ledger is one package (with a `LedgerKind` in it) plus one line in `ADAPTERS`. The
entries are import paths, so this module imports no vendor package until a kind is used. A kind
whose connections are connected by a person's consent (an app installation, OAuth) names its
flow in `LedgerKind.consent`; ingest runs it (lb_connectors/ledger/consent.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from pydantic import BaseModel

from lb_common.ledger_calls import CallTally
from lb_common.settings import CommonSettings
from lb_connectors.ledger.consent import ConsentContext, ConsentFlow
from lb_connectors.ledger.errors import UnknownLedgerKind
from lb_connectors.ledger.port import Ledger

#: kind → "module:attribute" of its LedgerKind. One line per ledger.
ADAPTERS: dict[str, str] = {
    "economic": "lb_connectors.economic.ledger:LEDGER_KIND",
    "quickbooks": "lb_connectors.quickbooks.ledger:LEDGER_KIND",
}


@dataclass(frozen=True)
class AdapterContext:
    """What every adapter may use besides its credentials."""

    settings: CommonSettings
    transport: httpx.AsyncBaseTransport | None = None
    # Counts the calls made per agreement and UTC day (lb_common/ledger_calls.py), if given.
    tally: CallTally | None = None


@dataclass(frozen=True)
class LedgerKind:
    """One ledger kind: its credentials model (validated when a connection is saved) and how
    to open an adapter for a set of credentials. `pool_key` says which credentials may share
    one adapter (one HTTP pool, one pacer): e.g. one e-conomic agreement, one QuickBooks
    company. `consent` opens the kind's consent flow, if a person connects it that way (else
    its credentials are entered on the connection)."""

    kind: str
    label: str  # for people: "e-conomic", "QuickBooks Online"
    credentials: type[BaseModel]
    open: Callable[[BaseModel, AdapterContext], Ledger]
    pool_key: Callable[[BaseModel], tuple[str, ...]]
    consent: Callable[[ConsentContext], ConsentFlow] | None = None


def ledger_kind(kind: str) -> LedgerKind:
    path = ADAPTERS.get(kind)
    if path is None:
        raise UnknownLedgerKind(
            f"no ledger adapter is registered for kind {kind!r} (known: {', '.join(ADAPTERS)})"
        )
    module, _, attribute = path.partition(":")
    found = getattr(importlib.import_module(module), attribute)
    assert isinstance(found, LedgerKind) and found.kind == kind, path
    return found


def credential_models() -> dict[str, type[BaseModel]]:
    """Kind → its credentials model, for validating a connection's ledger."""
    return {kind: ledger_kind(kind).credentials for kind in ADAPTERS}
