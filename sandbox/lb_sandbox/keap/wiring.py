"""How the sandbox app serves Keap: its state, its routes, its error bodies (app.py calls
`install` once)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response

from . import admin, routes
from .errors import KeapHTTPError
from .state import KeapRegistry

PREFIX = "/keap/crm/rest"  # real: https://api.infusionsoft.com/crm/rest


async def _keap_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KeapHTTPError)
    return exc.response()


def install(app: FastAPI, hook_transport: httpx.AsyncBaseTransport | None = None) -> None:
    app.state.keap = KeapRegistry()
    app.state.keap_limits = {}
    # Where hook handshakes and deliveries go: the network, or (tests) an in-process app.
    app.state.keap_hook_transport = hook_transport
    app.include_router(routes.router, prefix=PREFIX)
    app.include_router(admin.router)
    app.add_exception_handler(KeapHTTPError, _keap_error)
