"""Connecting a QuickBooks company to a connection, Intuit's OAuth 2.0 authorization code flow.

1. `start_consent`: the operator asks for a consent URL: Intuit's page with our app's client id,
   scope `com.intuit.quickbooks.accounting`, the redirect URI `<public_url>/grants/quickbooks`
   and a one-time `state`. Intuit only redirects to a URI registered on the app, character for
   character, so there is one redirect URI for every connection and the state says which
   connection the consent is for (only its SHA-256 is kept, with an expiry).
2. The bookkeeper signs in, picks a company and consents; Intuit sends the browser to the
   redirect with `code`, `state` and `realmId` (or `error=access_denied` when declined).
3. `take_consent`: the state is used up (once, before it expires), the code is exchanged at
   Intuit's token endpoint (lb_connectors.quickbooks.consent), the tokens go sealed into the
   shared token vault, and only then does the connection's ledger become `quickbooks` (realm
   id and the vault key) and every service get it (connection.changed). Until then the
   connection keeps its old ledger.

The tokens are stored under `<connection>/<realm id>`, so connecting another company never
overwrites the tokens the connection's current ledger still uses.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import select

from lb_common.connection_copies import ConnectionCopy
from lb_common.db import Database, utcnow
from lb_common.sealing import SecretBox
from lb_connectors.quickbooks.consent import connect_company, consent_url
from lb_connectors.quickbooks.errors import QuickBooksAuthError, QuickBooksUnavailable
from lb_connectors.quickbooks.oauth import OAuthApp
from lb_connectors.quickbooks.settings import QuickBooksSettings
from lb_connectors.quickbooks.token_vault import QuickBooksTokenRow, TokenVault
from lb_ingest.connection_onboarding import OnboardingRefused, live_connection
from lb_ingest.connections import announce, opened, seal_into
from lb_ingest.settings import IngestSettings
from lb_ingest.store import QuickBooksConsent

log = logging.getLogger(__name__)

REDIRECT_PATH = "/grants/quickbooks"


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def redirect_uri(settings: IngestSettings) -> str:
    return (settings.public_url or "").rstrip("/") + REDIRECT_PATH


class QuickBooksConnector:
    """Intuit's side of the flow: the app's keys, the token endpoint and the token vault (its
    database is the one every service reads the tokens from)."""

    def __init__(
        self,
        box: SecretBox,
        transport: httpx.AsyncBaseTransport | None = None,
        settings: QuickBooksSettings | None = None,
    ) -> None:
        settings = settings or QuickBooksSettings()  # LEDGERBRIDGE_QUICKBOOKS_*
        self.settings = settings
        self.app = OAuthApp(
            settings.client_id,
            settings.client_secret.get_secret_value(),
            settings.token_url,
            settings.authorize_url,
        )
        self._box = box
        self._transport = transport
        self._db: Database | None = None

    def check_vault(self) -> str:
        if not self.settings.token_database_url:
            raise OnboardingRefused(
                409,
                "LEDGERBRIDGE_QUICKBOOKS_TOKEN_DATABASE_URL is not set: the tokens of a "
                "QuickBooks company go into the database every service reads them from; set it "
                "(the same in every service) and restart ingest",
            )
        return self.settings.token_database_url

    async def vault(self) -> TokenVault:
        url = self.check_vault()
        if self._db is None:
            self._db = Database(url)
            await self._db.create_tables([QuickBooksTokenRow])
        return TokenVault(self._db, self._box)

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self._transport, timeout=30.0)

    async def aclose(self) -> None:
        if self._db is not None:
            await self._db.dispose()
            self._db = None


async def start_consent(
    db: Database,
    settings: IngestSettings,
    connector: QuickBooksConnector,
    name: str,
    *,
    base_url: str | None = None,
) -> dict[str, Any]:
    """A new consent URL for the connection (an older one stops working)."""
    if not settings.public_url:
        raise OnboardingRefused(
            409,
            "LEDGERBRIDGE_INGEST_PUBLIC_URL is not set: Intuit needs ingest's public address to "
            "send the consent back to; set it and restart ingest",
        )
    if not connector.app.client_id:
        raise OnboardingRefused(
            409,
            "LEDGERBRIDGE_QUICKBOOKS_CLIENT_ID is not set: copy your Intuit app's client id "
            "(developer.intuit.com, Keys & credentials), set it and restart ingest",
        )
    connector.check_vault()  # before the bookkeeper consents, not after
    state = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(minutes=settings.quickbooks_consent_minutes)
    async with db.transaction() as session:
        await live_connection(session, name)
        row = await session.get(QuickBooksConsent, name) or QuickBooksConsent(connection=name)
        row.state_sha256 = _digest(state)
        row.expires_at = expires
        row.base_url = base_url or connector.settings.api_url
        session.add(row)
    return {
        "consent_url": consent_url(connector.app, redirect_uri(settings), state),
        "redirect_uri": redirect_uri(settings),
        "expires_at": expires,
    }


@dataclass(frozen=True)
class Consented:
    connection: str
    realm_id: str
    copy: ConnectionCopy | None


async def _use_state(db: Database, state: str) -> QuickBooksConsent:
    """The pending consent `state` belongs to, used up (a second use finds nothing)."""
    if not state:
        raise OnboardingRefused(
            400, "the redirect carries no state: start again with a new consent URL"
        )
    async with db.transaction() as session:
        rows = await session.exec(
            select(QuickBooksConsent).where(QuickBooksConsent.state_sha256 == _digest(state))
        )
        row = rows.first()
        if row is None:
            raise OnboardingRefused(
                403,
                "this consent's state is unknown: it was used already, a newer consent URL "
                "was made, or it is not ours; ask for a new consent URL",
            )
        expired = row.expires_at is None or row.expires_at < utcnow()
        row.state_sha256, pending_until = None, row.expires_at
        row.expires_at = None
        session.add(row)
        used = QuickBooksConsent(
            connection=row.connection, base_url=row.base_url, expires_at=pending_until
        )
    if expired:
        raise OnboardingRefused(
            403,
            f"the consent URL of connection {used.connection!r} has expired: ask for a new one "
            "and use it in time",
        )
    return used


async def decline(db: Database, state: str, error: str, description: str) -> str:
    """Intuit's redirect with `error` (the bookkeeper declined, or Intuit refused): the state is
    used up; the message says what happened."""
    which = ""
    try:
        used = await _use_state(db, state)
        which = f" for connection {used.connection!r}"
    except OnboardingRefused:
        pass  # an unknown state: still say what Intuit answered
    if error == "access_denied":
        reason = "the company's consent was declined at Intuit (access_denied)"
    else:
        reason = f"Intuit refused the consent ({error}{': ' + description if description else ''})"
    return (
        f"No QuickBooks company was connected{which}: {reason}. The connection keeps its ledger; "
        "ask for a new consent URL to try again"
    )


async def take_consent(
    db: Database,
    box: SecretBox,
    settings: IngestSettings,
    connector: QuickBooksConnector,
    *,
    state: str,
    code: str,
    realm_id: str,
) -> Consented:
    """The redirect's code exchanged, the tokens sealed into the vault, the connection's ledger
    set to the company, if `state` is a pending consent's."""
    used = await _use_state(db, state)
    name = used.connection
    if not code or not realm_id:
        missing = " and ".join(p for p, v in (("code", code), ("realmId", realm_id)) if not v)
        raise OnboardingRefused(
            400, f"Intuit's redirect carries no {missing}: ask for a new consent URL"
        )
    if not realm_id.isdigit():  # a company id is digits; it becomes part of the vault key
        raise OnboardingRefused(
            400, f"realmId {realm_id[:40]!r} is not a QuickBooks company id (digits)"
        )
    vault = await connector.vault()
    key = f"{name}/{realm_id}"
    try:
        async with connector.http() as http:
            credentials = await connect_company(
                vault,
                connector.app,
                http,
                connection=key,
                code=code,
                redirect_uri=redirect_uri(settings),
                realm_id=realm_id,
                base_url=used.base_url or connector.settings.api_url,
            )
    except QuickBooksAuthError as exc:
        raise OnboardingRefused(
            502,
            f"Intuit's token endpoint refused the consent's code (HTTP {exc.status}, "
            f"{exc.detail}): it was used or is too old, or the app's keys are wrong; check "
            "LEDGERBRIDGE_QUICKBOOKS_CLIENT_ID/_CLIENT_SECRET and that the redirect URI "
            f"{redirect_uri(settings)} is registered on the app, then ask for a new consent URL",
        ) from None
    except QuickBooksUnavailable as exc:
        raise OnboardingRefused(
            503, f"{exc.reason.removesuffix('; retrying later')}: ask for a new consent URL"
        ) from None
    async with db.transaction() as session:
        shop_connection = await live_connection(session, name)
        secrets_ = opened(box, shop_connection)
        secrets_["ledger"] = {"kind": "quickbooks", "credentials": credentials.model_dump()}
        seal_into(box, shop_connection, secrets_)
        shop_connection.revision += 1
        session.add(shop_connection)
        row = await session.get(QuickBooksConsent, name) or QuickBooksConsent(connection=name)
        row.connected_at, row.realm_id = utcnow(), realm_id
        session.add(row)
        copy = await announce(session, box, shop_connection)
    log.info(
        "QuickBooks company connected",
        extra={"data": {"connection": name, "realm_id": realm_id}},
    )
    return Consented(name, realm_id, copy)


def view(row: QuickBooksConsent | None) -> dict[str, Any]:
    """The consent as the connection's page shows it (no state, no token)."""
    now = utcnow()
    pending = bool(
        row is not None and row.state_sha256 and row.expires_at is not None and row.expires_at > now
    )
    return {
        "pending_until": row.expires_at if row is not None and pending else None,
        "connected_at": row.connected_at if row is not None else None,
        "realm_id": row.realm_id if row is not None else None,
    }
