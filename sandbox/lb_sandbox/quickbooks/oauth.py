"""Intuit's OAuth 2.0 for QuickBooks: the authorization page and the token endpoint.

- `GET /connect/oauth2?client_id&redirect_uri&response_type=code&scope&state`: Intuit asks the
  user to pick a company and consent, then redirects to `redirect_uri?code&state&realmId`. The
  sandbox has no logins: it consents at once, to the company named by the sandbox-only
  parameter `realmId`, or to a new company.
- `POST /oauth2/v1/tokens/bearer` with HTTP Basic client credentials and a form body:
  `grant_type=authorization_code` (code, redirect_uri; a code works once) or
  `grant_type=refresh_token` (refresh_token). The answer carries access_token (3600 s),
  refresh_token, expires_in and x_refresh_token_expires_in. Refresh tokens rotate: the one used
  stops working as soon as the new one is issued (the strictest reading of "always use the
  latest refresh token"), so a client that loses the answer must reconnect.
- Errors as RFC 6749 says and Intuit answers: 401 `invalid_client`, 400 `invalid_grant`,
  400 `unsupported_grant_type`, 400 `invalid_request`.
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..economic.jsonio import EconomicJSONResponse
from .faults import system_failure
from .pipeline import faults, world

router = APIRouter()
SCOPE = "com.intuit.quickbooks.accounting"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"


def oauth_error(status: int, error: str, description: str | None = None) -> Response:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return EconomicJSONResponse(body, status_code=status)


@router.get("/connect/oauth2")
async def authorize(request: Request) -> Response:
    q = request.query_params
    settings = request.app.state.settings
    if q.get("client_id") != settings.quickbooks_client_id:
        return oauth_error(400, "invalid_client", "unknown client_id")
    if q.get("response_type") != "code" or not q.get("redirect_uri"):
        return oauth_error(400, "invalid_request", "response_type=code and redirect_uri needed")
    if SCOPE not in (q.get("scope") or "").split():
        return oauth_error(400, "invalid_scope", f"scope must include {SCOPE}")
    w = world(request)
    realm = q.get("realmId")
    company = w.company(realm) if realm else w.new_company()
    if company is None:
        return oauth_error(400, "invalid_request", "unknown realmId")
    code = "sbx-code-" + secrets.token_urlsafe(18)
    w.codes[code] = (company.realm_id, q["client_id"], q["redirect_uri"])
    params = {"code": code, "state": q.get("state", ""), "realmId": company.realm_id}
    separator = "&" if "?" in q["redirect_uri"] else "?"
    return RedirectResponse(q["redirect_uri"] + separator + urlencode(params), status_code=302)


def _client(request: Request) -> str | None:
    settings = request.app.state.settings
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    ok = (client_id, secret) == (settings.quickbooks_client_id, settings.quickbooks_client_secret)
    return client_id if ok else None


@router.post(TOKEN_PATH)
async def token(request: Request) -> Response:
    w = world(request)
    client_id = _client(request)
    if client_id is None:
        return oauth_error(401, "invalid_client")
    form = await request.form()
    grant = form.get("grant_type")
    if grant == "authorization_code":
        code = str(form.get("code") or "")
        found = w.codes.get(code)
        if found is None or found[1] != client_id:
            return oauth_error(400, "invalid_grant")
        if form.get("redirect_uri") != found[2]:
            return oauth_error(400, "invalid_grant", "redirect_uri does not match")
        realm = found[0]
        spent: tuple[dict[str, Any], str] = (w.codes, code)
    elif grant == "refresh_token":
        refresh = str(form.get("refresh_token") or "")
        held = w.refresh.get(refresh)
        if held is None or held.client_id != client_id or held.expires_at <= time.time():
            return oauth_error(400, "invalid_grant", "Incorrect or invalid refresh token")
        realm = held.realm_id
        spent = (w.refresh, refresh)
    else:
        return oauth_error(400, "unsupported_grant_type")
    lost = False
    for fault in faults(request).draw("POST", TOKEN_PATH, realm):
        if fault.spec.kind == "error":
            return system_failure(fault.spec.status).response()
        if fault.spec.kind == "lost_reply":
            lost = True
    spent[0].pop(spent[1], None)  # a code or refresh token works once
    body = w.issue(realm, client_id)
    if lost:  # issued (the old refresh token is gone), but the answer never arrives
        return system_failure(502).response()
    return EconomicJSONResponse(body, headers={"Cache-Control": "no-store"})
