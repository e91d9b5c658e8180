"""Puts the QuickBooks emulation into the sandbox app: its routes under /quickbooks, its state,
its fault registry, and its admin routes under /_sandbox/quickbooks."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response

from ..economic.faults import FaultRegistry
from . import admin, api, oauth
from .faults import QuickBooksFault
from .state import QuickBooksWorld

PREFIX = "/quickbooks"
# Intuit's OAuth endpoints (consent, token) answer in OAuth 2.0's shape, not the API's Fault.
OAUTH_PREFIXES = (f"{PREFIX}/connect/", f"{PREFIX}/oauth2/")


def install(app: FastAPI, *, access_seconds: float) -> None:
    app.state.quickbooks = QuickBooksWorld(access_seconds=access_seconds)
    app.state.quickbooks_faults = FaultRegistry()
    app.include_router(api.router, prefix=PREFIX)
    app.include_router(oauth.router, prefix=PREFIX)
    app.include_router(admin.router)


def not_found_fault(status: int, detail: str) -> QuickBooksFault:
    """Unknown paths and wrong verbs under /quickbooks, in QuickBooks' Fault shape."""
    return QuickBooksFault(
        status,
        "2010" if status != 404 else "404",
        "Unsupported operation",
        detail,
        kind="ValidationFault",
    )


def http_error(path: str, status: int, detail: str) -> Response:
    """Unknown paths and wrong verbs under /quickbooks: OAuth's `{"error": ...}` on the OAuth
    endpoints (RFC 6749's shape; Intuit's exact body for a wrong verb is unconfirmed), the
    API's Fault elsewhere."""
    if path.startswith(OAUTH_PREFIXES):
        return oauth.oauth_error(status, "invalid_request", detail)
    return not_found_fault(status, detail).response()
