"""How the sandbox app serves Keap: its state, its routes, its error bodies (app.py calls
`install` once, after its own error handlers: under /keap and /_sandbox/keap, an unknown path,
a wrong verb or an unreadable parameter is answered in Keap's shape, elsewhere as before)."""

from __future__ import annotations

import inspect

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import admin, routes
from .errors import KeapHTTPError, message
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
    for kind in (StarletteHTTPException, RequestValidationError):
        _answer_in_keaps_shape(app, kind)


def _answer_in_keaps_shape(app: FastAPI, kind: type[Exception]) -> None:
    before = app.exception_handlers.get(kind)

    async def handle(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith((PREFIX, "/_sandbox/keap/")) or before is None:
            if isinstance(exc, StarletteHTTPException):
                text = "Not found" if exc.status_code == 404 else str(exc.detail)
                return message(exc.status_code, text).response()
            return message(400, "Invalid request: check the path, query and body").response()
        answer = before(request, exc)
        # Starlette allows plain and async handlers; the app's own are async.
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(kind, handle)
