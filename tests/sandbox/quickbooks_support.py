"""Connecting to the sandbox's QuickBooks the way an app does: consent, then code for tokens."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

CLIENT_ID, CLIENT_SECRET = "sandbox-qbo-client", "sandbox-qbo-secret"
REDIRECT = "https://ledgerbridge.test/quickbooks/callback"
SCOPE = "com.intuit.quickbooks.accounting"
TOKEN_URL = "/quickbooks/oauth2/v1/tokens/bearer"


async def consent(http: httpx.AsyncClient, realm_id: str | None = None) -> tuple[str, str]:
    """(code, realmId) from the authorization page's redirect."""
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": SCOPE,
        "state": "s1",
    }
    if realm_id:
        params["realmId"] = realm_id
    reply = await http.get("/quickbooks/connect/oauth2", params=params)
    assert reply.status_code == 302, reply.text
    query = parse_qs(urlsplit(reply.headers["location"]).query)
    assert query["state"] == ["s1"]
    return query["code"][0], query["realmId"][0]


async def connect(
    http: httpx.AsyncClient, realm_id: str | None = None
) -> tuple[str, dict[str, Any]]:
    """(realmId, token answer) for a new company (or `realm_id`)."""
    code, realm = await consent(http, realm_id)
    reply = await http.post(
        TOKEN_URL,
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
    )
    assert reply.status_code == 200, reply.text
    return realm, reply.json()


def service_item(name: str, sku: str, price: str = "10.00") -> dict[str, Any]:
    return {
        "Name": name,
        "Sku": sku,
        "Type": "Service",
        "UnitPrice": price,
        "IncomeAccountRef": {"value": "1"},
    }
