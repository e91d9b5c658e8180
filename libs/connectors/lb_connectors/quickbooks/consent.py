"""Connecting a QuickBooks company to a connection: the consent URL, and the callback's code
exchanged for tokens that go sealed into the vault. Ingest's connection routes call these; the
connection's ledger then becomes kind `quickbooks` with `QuickBooksCredentials`."""

from __future__ import annotations

import httpx

from .client import PRODUCTION_URL
from .ledger import QuickBooksCredentials
from .oauth import OAuthApp, exchange_code
from .token_vault import TokenVault


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
