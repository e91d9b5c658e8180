"""Intuit's OAuth 2.0 token endpoint: exchanging a consent's code, and refreshing.

A refresh answers with a new access token (3600 s) and a refresh token that replaces the one
sent: the old one must not be used again. What to do with the answer (seal and store it before
anything else) is `token_keeper.py`'s job; this module only speaks the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from .errors import RECONNECT, QuickBooksAuthError, QuickBooksUnavailable

SCOPE = "com.intuit.quickbooks.accounting"
AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"


@dataclass(frozen=True)
class TokenSet:
    realm_id: str
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime

    def access_valid(self, now: datetime, margin: timedelta = timedelta(seconds=60)) -> bool:
        return self.access_expires_at - margin > now

    def to_secret(self) -> dict[str, Any]:
        return {
            "realm_id": self.realm_id,
            "access_token": self.access_token,
            "access_expires_at": self.access_expires_at.isoformat(),
            "refresh_token": self.refresh_token,
            "refresh_expires_at": self.refresh_expires_at.isoformat(),
        }

    @classmethod
    def from_secret(cls, data: dict[str, Any]) -> TokenSet:
        return cls(
            realm_id=str(data["realm_id"]),
            access_token=str(data["access_token"]),
            access_expires_at=datetime.fromisoformat(data["access_expires_at"]),
            refresh_token=str(data["refresh_token"]),
            refresh_expires_at=datetime.fromisoformat(data["refresh_expires_at"]),
        )

    def __repr__(self) -> str:  # never a token in a log line
        return f"TokenSet(realm_id={self.realm_id!r}, access_expires_at={self.access_expires_at})"


@dataclass(frozen=True)
class OAuthApp:
    client_id: str
    client_secret: str
    token_url: str = TOKEN_URL
    authorize_url: str = AUTHORIZE_URL

    def authorization_url(self, redirect_uri: str, state: str) -> str:
        query = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": SCOPE,
            "state": state,
        }
        return f"{self.authorize_url}?{urlencode(query)}"

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r})"


def _tokens(realm_id: str, body: dict[str, Any], now: datetime) -> TokenSet:
    return TokenSet(
        realm_id=realm_id,
        access_token=str(body["access_token"]),
        access_expires_at=now + timedelta(seconds=int(body.get("expires_in", 3600))),
        refresh_token=str(body["refresh_token"]),
        refresh_expires_at=now
        + timedelta(seconds=int(body.get("x_refresh_token_expires_in", 8640000))),
    )


async def _token_call(
    http: httpx.AsyncClient, app: OAuthApp, form: dict[str, str], what: str
) -> dict[str, Any]:
    try:
        reply = await http.post(
            app.token_url,
            data=form,
            auth=(app.client_id, app.client_secret),
            headers={"Accept": "application/json"},
        )
    except httpx.HTTPError as exc:
        raise QuickBooksUnavailable(
            f"could not reach Intuit's token endpoint to {what} ({type(exc).__name__}); "
            "retrying later"
        ) from exc
    if reply.status_code >= 500:
        raise QuickBooksUnavailable(
            f"Intuit's token endpoint failed to {what} (HTTP {reply.status_code}); retrying later"
        )
    try:
        body: dict[str, Any] = reply.json()
    except ValueError:
        body = {}
    if reply.status_code != 200 or "access_token" not in body:
        error = body.get("error", f"HTTP {reply.status_code}")
        raise QuickBooksAuthError(
            f"{RECONNECT} (token endpoint: {error})", status=reply.status_code, detail=str(error)
        )
    return body


async def exchange_code(
    http: httpx.AsyncClient, app: OAuthApp, code: str, redirect_uri: str, realm_id: str
) -> TokenSet:
    now = datetime.now(UTC)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    return _tokens(realm_id, await _token_call(http, app, form, "exchange the consent"), now)


async def refresh(http: httpx.AsyncClient, app: OAuthApp, tokens: TokenSet) -> TokenSet:
    now = datetime.now(UTC)
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    return _tokens(tokens.realm_id, await _token_call(http, app, form, "refresh the tokens"), now)
