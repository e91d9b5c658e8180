"""How a person connects a ledger to a connection: the ledger's own consent flow (e-conomic's
app installation, Intuit's OAuth 2.0 consent), declared by its kind (`LedgerKind.consent`).

Ingest runs every flow the same way (lb_ingest/ledger_consent.py):

1. `start`: ingest makes a one-time `state` (it keeps only its SHA-256, with an expiry) and the
   flow answers the URL the person follows, with the redirect back to ingest in it.
2. The ledger sends the browser back to ingest's redirect with its parameters; ingest checks
   the state (once, before it expires) and hands the parameters to `complete`, which turns them
   into the kind's credentials (exchanging a code, storing tokens in a vault...).
3. Ingest seals the credentials onto the connection, and every service gets them.

A flow holds no per-consent state: what `complete` needs from `start` (e.g. the API address
asked for) goes back in `ConsentLink.keep`, which ingest stores with the hashed state.
Messages are for a person and never carry a token, a code or the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from lb_common.settings import CommonSettings


class ConsentRefused(Exception):
    """A step of the flow cannot be done. `status` is the HTTP status ingest answers with; the
    message says what to do next."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ConsentContext:
    """What every flow may use. `host` is the settings of the service running it (ingest's),
    for flows configured there (e-conomic's app public token)."""

    settings: CommonSettings
    host: Any = None
    transport: httpx.AsyncBaseTransport | None = None


@dataclass(frozen=True)
class ConsentLink:
    """Where the person goes. `answer` names the URL for the caller (`installation_url`,
    `consent_url`) with anything else worth showing; `keep` is stored with the state for
    `complete`."""

    answer: dict[str, Any]
    keep: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Connected:
    """A finished consent: the credentials to store on the connection (plain values of the
    kind's credentials model), facts shown on the connection's page (no secret), and what the
    person is told it now books into."""

    credentials: dict[str, Any]
    facts: dict[str, str]
    books_into: str  # "this agreement", "QuickBooks company 4620816365"


class ConsentFlow(Protocol):
    #: What the person connects, for messages: "agreement", "QuickBooks company".
    thing: str
    #: What the person follows, for messages: "installation URL", "consent URL".
    link: str
    #: True: one redirect for every connection (`/grants/<kind>`, e.g. Intuit accepts only a
    #: registered redirect URI), the state saying which connection it is for. False: the
    #: connection is in the redirect's path (`/grants/<kind>/<connection>`).
    shared_redirect: bool
    #: Propose settings from the ledger's reference data once connected (connection_proposal).
    proposes_settings: bool
    #: How long a started consent may be completed.
    minutes: float

    def start(
        self, *, connection: str, redirect_uri: str, state: str, options: Mapping[str, Any]
    ) -> ConsentLink:
        """The link to follow. Raises ConsentRefused when the flow is not configured (409) or
        an option is wrong (422), before any state is made."""
        ...

    def check_callback(self, params: Mapping[str, str]) -> None:
        """Refuse a callback that cannot complete before its state is used (ConsentRefused)."""
        ...

    def declined(self, params: Mapping[str, str]) -> str | None:
        """Why the callback says no consent was given (the person declined, the vendor
        refused), or None."""
        ...

    async def complete(
        self,
        *,
        connection: str,
        params: Mapping[str, str],
        keep: Mapping[str, str],
        redirect_uri: str,
    ) -> Connected:
        """The callback's parameters turned into credentials (ConsentRefused if they cannot
        be)."""
        ...

    async def aclose(self) -> None: ...
