"""Connecting a QuickBooks company to a connection: the consent URL, and the callback's code
exchanged for tokens that go sealed into the vault; `IntuitConsent` is the kind's consent flow
(`LEDGER_KIND.consent`), which ingest runs. The connection's ledger then becomes kind
`quickbooks` with `QuickBooksCredentials`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from lb_common.db import Database
from lb_common.sealing import SecretBox
from lb_connectors.ledger.consent import Connected, ConsentContext, ConsentLink, ConsentRefused

from .client import PRODUCTION_URL
from .errors import QuickBooksAuthError, QuickBooksUnavailable
from .ledger import QuickBooksCredentials
from .oauth import OAuthApp, exchange_code
from .settings import QuickBooksSettings
from .token_vault import QuickBooksTokenRow, TokenVault


def consent_url(app: OAuthApp, redirect_uri: str, state: str) -> str:
    """Where to send the bookkeeper: Intuit asks them to pick a company and consent, then
    redirects to `redirect_uri` with `code`, `state` (check it) and `realmId`."""
    return app.authorization_url(redirect_uri, state)


async def connect_company(
    vault: TokenVault,
    app: OAuthApp,
    http: httpx.AsyncClient,
    *,
    connection: str,
    code: str,
    redirect_uri: str,
    realm_id: str,
    base_url: str = PRODUCTION_URL,
) -> QuickBooksCredentials:
    """Exchange the callback's code and store the tokens under the connection's name."""
    tokens = await exchange_code(http, app, code, redirect_uri, realm_id)
    await vault.connect(connection, tokens)
    return QuickBooksCredentials(realm_id=realm_id, token_key=connection, base_url=base_url)


class IntuitConsent:
    """Intuit's OAuth 2.0 authorization code flow behind the ledger port's `ConsentFlow`.

    1. `start`: Intuit's page with our app's client id, scope `com.intuit.quickbooks.accounting`,
       the redirect URI `<public_url>/grants/quickbooks` and the one-time `state`. Intuit only
       redirects to a URI registered on the app, character for character, so there is one
       redirect URI for every connection and the state says which connection it is for.
    2. The bookkeeper signs in, picks a company and consents; Intuit sends the browser back with
       `code`, `state` and `realmId` (or `error=access_denied` when declined).
    3. `complete`: the code is exchanged at Intuit's token endpoint and the tokens go sealed
       into the shared token vault under `<connection>/<realm id>` (so connecting another
       company never overwrites the tokens the connection's current ledger still uses); the
       credentials name that vault row.

    The app's keys and the vault are LEDGERBRIDGE_QUICKBOOKS_*; how long a consent URL lasts is
    ingest's LEDGERBRIDGE_INGEST_QUICKBOOKS_CONSENT_MINUTES.
    """

    thing = "QuickBooks company"
    link = "consent URL"
    shared_redirect = True
    proposes_settings = False

    def __init__(self, context: ConsentContext) -> None:
        self.settings = QuickBooksSettings()  # LEDGERBRIDGE_QUICKBOOKS_*
        self.app = OAuthApp(
            self.settings.client_id,
            self.settings.client_secret.get_secret_value(),
            self.settings.token_url,
            self.settings.authorize_url,
        )
        self.minutes: float = getattr(context.host, "quickbooks_consent_minutes", 30)
        self._box = SecretBox.from_settings(context.settings)
        self._transport = context.transport
        self._db: Database | None = None

    def _vault_url(self) -> str:
        if not self.settings.token_database_url:
            raise ConsentRefused(
                409,
                "LEDGERBRIDGE_QUICKBOOKS_TOKEN_DATABASE_URL is not set: the tokens of a "
                "QuickBooks company go into the database every service reads them from; set it "
                "(the same in every service) and restart ingest",
            )
        return self.settings.token_database_url

    async def _vault(self) -> TokenVault:
        url = self._vault_url()
        if self._db is None:
            self._db = Database(url)
            await self._db.create_tables([QuickBooksTokenRow])
        return TokenVault(self._db, self._box)

    def start(
        self, *, connection: str, redirect_uri: str, state: str, options: Mapping[str, Any]
    ) -> ConsentLink:
        if not self.app.client_id:
            raise ConsentRefused(
                409,
                "LEDGERBRIDGE_QUICKBOOKS_CLIENT_ID is not set: copy your Intuit app's client id "
                "(developer.intuit.com, Keys & credentials), set it and restart ingest",
            )
        self._vault_url()  # before the bookkeeper consents, not after
        return ConsentLink(
            answer={
                "consent_url": consent_url(self.app, redirect_uri, state),
                "redirect_uri": redirect_uri,
            },
            keep={"base_url": options.get("base_url") or self.settings.api_url},
        )

    def check_callback(self, params: Mapping[str, str]) -> None:
        return None  # what is missing is said once the state is used up

    def declined(self, params: Mapping[str, str]) -> str | None:
        error = params.get("error")
        if not error:
            return None
        if error == "access_denied":
            return "the company's consent was declined at Intuit (access_denied)"
        description = params.get("error_description")
        return f"Intuit refused the consent ({error}{': ' + description if description else ''})"

    async def complete(
        self,
        *,
        connection: str,
        params: Mapping[str, str],
        keep: Mapping[str, str],
        redirect_uri: str,
    ) -> Connected:
        code, realm_id = params.get("code", ""), params.get("realmId", "")
        if not code or not realm_id:
            missing = " and ".join(p for p, v in (("code", code), ("realmId", realm_id)) if not v)
            raise ConsentRefused(
                400, f"Intuit's redirect carries no {missing}: ask for a new consent URL"
            )
        if not realm_id.isdigit():  # a company id is digits; it becomes part of the vault key
            raise ConsentRefused(
                400, f"realmId {realm_id[:40]!r} is not a QuickBooks company id (digits)"
            )
        vault = await self._vault()
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=30.0) as http:
                credentials = await connect_company(
                    vault,
                    self.app,
                    http,
                    connection=f"{connection}/{realm_id}",
                    code=code,
                    redirect_uri=redirect_uri,
                    realm_id=realm_id,
                    base_url=keep.get("base_url") or self.settings.api_url,
                )
        except QuickBooksAuthError as exc:
            raise ConsentRefused(
                502,
                f"Intuit's token endpoint refused the consent's code (HTTP {exc.status}, "
                f"{exc.detail}): it was used or is too old, or the app's keys are wrong; check "
                "LEDGERBRIDGE_QUICKBOOKS_CLIENT_ID/_CLIENT_SECRET and that the redirect URI "
                f"{redirect_uri} is registered on the app, then ask for a new consent URL",
            ) from None
        except QuickBooksUnavailable as exc:
            raise ConsentRefused(
                503, f"{exc.reason.removesuffix('; retrying later')}: ask for a new consent URL"
            ) from None
        return Connected(
            credentials=credentials.model_dump(),
            facts={"realm_id": realm_id},
            books_into=f"QuickBooks company {realm_id}",
        )

    async def aclose(self) -> None:
        if self._db is not None:
            await self._db.dispose()
            self._db = None
