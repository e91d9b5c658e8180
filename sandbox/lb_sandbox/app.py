"""FastAPI app: e-conomic's REST API under /economic, plus /_sandbox admin and /healthz."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import admin
from .economic import (
    routes_customers,
    routes_invoices,
    routes_journals,
    routes_products,
    routes_reference,
)
from .economic.errors import EconomicHTTPError
from .economic.faults import FaultRegistry
from .economic.jsonio import EconomicJSONResponse
from .economic.state import AgreementRegistry
from .settings import SandboxSettings

ECONOMIC_PREFIX = "/economic"


async def _economic_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EconomicHTTPError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    # Unknown paths and wrong verbs still answer in e-conomic's error shape.
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    message = "Resource not found." if status == 404 else str(exc.detail)
    return EconomicHTTPError(status, message, "See https://restdocs.e-conomic.com.").response()


async def _validation_error(request: Request, exc: Exception) -> Response:
    return EconomicHTTPError(
        400, "Invalid request.", "Check the path and query parameters."
    ).response()


def create_app(settings: SandboxSettings | None = None) -> FastAPI:
    settings = settings or SandboxSettings()
    app = FastAPI(
        title="ledgerbridge e-conomic sandbox", default_response_class=EconomicJSONResponse
    )
    app.state.settings = settings
    app.state.registry = AgreementRegistry(
        rate_limit_tokens=settings.rate_limit_tokens,
        rate_limit_window_seconds=settings.rate_limit_window_seconds,
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
    )
    app.state.faults = FaultRegistry()
    for module in (
        routes_reference,
        routes_customers,
        routes_products,
        routes_invoices,
        routes_journals,
    ):
        app.include_router(module.router, prefix=ECONOMIC_PREFIX)
    app.include_router(admin.router)
    app.add_exception_handler(EconomicHTTPError, _economic_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    return app
