"""FastAPI app: e-conomic's REST API under /economic, Shopify's GraphQL Admin API under /shopify,
QuickBooks Online under /quickbooks,
Keap's REST API under /keap/crm/rest, plus /_sandbox admin and /healthz."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import admin
from .economic import (
    accounting_years,
    grants,
    journal_entries,
    openapi_inputs,
    routes_customers,
    routes_deletes,
    routes_invoices,
    routes_journals,
    routes_products,
    routes_reference,
    routes_vat,
)
from .economic.errors import EconomicHTTPError
from .economic.faults import FaultRegistry
from .economic.jsonio import EconomicJSONResponse
from .economic.state import AgreementRegistry
from .keap import wiring as keap_wiring
from .persistence import SaveAfterWrites, StateFile
from .quickbooks import wiring as quickbooks
from .settings import SandboxSettings, points_bucket
from .shopify import admin as shopify_admin
from .shopify import graphql_api as shopify_graphql
from .shopify.errors import ShopifyHTTPError
from .shopify.state import ShopRegistry

ECONOMIC_PREFIX = "/economic"
SHOPIFY_PREFIX = "/shopify"


async def _economic_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EconomicHTTPError)
    return exc.response()


async def _shopify_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ShopifyHTTPError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    # Unknown paths and wrong verbs still answer in e-conomic's (or Shopify's) error shape.
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if request.url.path.startswith(quickbooks.PREFIX):
        return quickbooks.http_error(request.url.path, status, str(exc.detail))
    if request.url.path.startswith(SHOPIFY_PREFIX):
        return ShopifyHTTPError(
            status, "Not Found" if status == 404 else str(exc.detail)
        ).response()
    message = "Resource not found." if status == 404 else str(exc.detail)
    return EconomicHTTPError(status, message, "See https://restdocs.e-conomic.com.").response()


async def _validation_error(request: Request, exc: Exception) -> Response:
    return EconomicHTTPError(
        400, "Invalid request.", "Check the path and query parameters."
    ).response()


def _state_inputs_in_openapi(app: FastAPI) -> None:
    """The OpenAPI also states the query parameters and bodies the endpoints read themselves
    (economic/openapi_inputs.py)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_inputs.add_to(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


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
    app.state.economic_apps = {
        settings.economic_app_public_token: grants.App(
            settings.economic_app_public_token, settings.economic_app_secret_token
        )
    }
    app.state.shops = ShopRegistry(
        points_maximum=points_bucket(settings)[0],
        points_restore_rate=points_bucket(settings)[1],
    )
    for module in (
        routes_reference,
        routes_customers,
        routes_deletes,
        routes_products,
        routes_invoices,
        routes_journals,
        journal_entries,
        accounting_years,
        routes_vat,
    ):
        app.include_router(module.router, prefix=ECONOMIC_PREFIX)
    app.include_router(grants.router)
    app.include_router(shopify_graphql.router, prefix=SHOPIFY_PREFIX)
    app.include_router(admin.router)
    app.include_router(shopify_admin.router)
    quickbooks.install(app, access_seconds=settings.quickbooks_access_token_seconds)
    app.add_exception_handler(EconomicHTTPError, _economic_error)
    app.add_exception_handler(ShopifyHTTPError, _shopify_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    _state_inputs_in_openapi(app)
    keap_wiring.install(app)  # Keap's REST API under /keap/crm/rest, its hooks, its errors
    if settings.state_file is not None:
        state = StateFile(settings.state_file, app.state.registry, app.state.quickbooks)
        state.load()
        app.add_middleware(SaveAfterWrites, state=state)
    return app
