"""Admin app factory: every service's FastAPI app gets health, readiness, metrics and bearer auth."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr
from sqlalchemy.exc import DBAPIError

from lb_common import tracing
from lb_common.admin_params import refuse_nul_characters
from lb_common.errors import PermanentError, TransientError
from lb_common.messaging import Broker
from lb_common.parking import ParkingLot, SettledCheck, parking_router

ReadinessCheck = Callable[[], Awaitable[None]]

_bearer = HTTPBearer(auto_error=False)


def require_admin(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    """Bearer auth for admin routes; the token is LEDGERBRIDGE_ADMIN_TOKEN."""
    expected: SecretStr | None = request.app.state.admin_token
    if expected is None or not expected.get_secret_value():
        raise HTTPException(503, "admin API disabled: set LEDGERBRIDGE_ADMIN_TOKEN to enable it")
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
        )


def create_admin_app(
    service: str,
    *,
    admin_token: SecretStr | None,
    readiness: Sequence[tuple[str, ReadinessCheck]],
    routers: Sequence[APIRouter] = (),
    open_routers: Sequence[APIRouter] = (),
    broker: Broker | None = None,
    parked_settled: SettledCheck | None = None,
) -> FastAPI:
    """`routers` need the admin token; `open_routers` (webhooks) authenticate themselves.
    With a broker, the service's parked messages are listed, retried and dismissed here too;
    `parked_settled` tells which of them a replay has made unnecessary (see parking.py)."""
    app = FastAPI(title=f"ledgerbridge {service}", version="0.1.0", **tracing.app_options())
    app.state.admin_token = admin_token
    add_error_answers(app)
    tracing.instrument_app(app)
    if broker is not None:
        routers = [*routers, parking_router(ParkingLot(broker, service, parked_settled))]

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        failures: dict[str, str] = {}
        for name, check in readiness:
            try:
                await check()
            except Exception as exc:
                failures[name] = type(exc).__name__
        if failures:
            return JSONResponse({"status": "not ready", "failing": failures}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["ops"])
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    # Open routers (webhooks) first: routes are matched in order, and webhooks are the traffic.
    for router in open_routers:
        app.include_router(router)
    for router in routers:
        # Authenticated first: an anonymous caller learns nothing about the input rules.
        app.include_router(
            router, dependencies=[Depends(require_admin), Depends(refuse_nul_characters)]
        )
    return app


def add_error_answers(app: FastAPI) -> None:
    """An admin call that meets the errors handlers raise answers in the same words, never
    with a bare 500: a permanent one (a disabled connection, a refusal by the ledger) is a 409
    the operator can act on, a transient one (the ledger down, another worker on it) a 503 with
    `Retry-After`. So is a call that met a database connection the server had dropped (a
    restart): the pool is renewed by then (db.py), and the next call works."""

    @app.exception_handler(PermanentError)
    async def permanent(_: Request, exc: PermanentError) -> JSONResponse:
        return JSONResponse({"detail": exc.reason}, status_code=409)

    @app.exception_handler(TransientError)
    async def transient(_: Request, exc: TransientError) -> JSONResponse:
        headers = {"Retry-After": str(max(1, round(exc.retry_after or 1)))}
        return JSONResponse({"detail": exc.reason}, status_code=503, headers=headers)

    @app.exception_handler(DBAPIError)
    async def database_error(_: Request, exc: DBAPIError) -> JSONResponse:
        if not exc.connection_invalidated:
            raise exc  # any other database error stays a 500, as before
        detail = "the database connection was lost; try again"
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})
