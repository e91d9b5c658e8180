"""The console's FastAPI app: pages, log-in, static files, health and readiness."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from lb_common import tracing
from lb_console import (
    audit_page,
    auth,
    connection_onboarding,
    connections,
    customers,
    orders,
    overview,
    parked,
    reports,
    stock,
)
from lb_console.backend import ServiceUnavailable
from lb_console.web import HERE, Console, render, security_headers

#: The modules that serve pages, each with `router()`.
PAGES = (
    auth,
    overview,
    orders,
    parked,
    connections,
    connection_onboarding,
    customers,
    reports,
    stock,
    audit_page,
)


async def _service_unavailable(request: Request, exc: Exception) -> Response:
    return render(
        request,
        "missing.html",
        status_code=502,
        what=f"{exc} Try again in a moment; nothing was changed by this page.",
    )


def create_app(console: Console) -> FastAPI:
    app = FastAPI(title="ledgerbridge console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = console
    tracing.instrument_app(app)  # its calls to the services (httpx) are spans of the same trace
    app.middleware("http")(security_headers)
    for exc, handler in auth.HANDLERS.items():
        app.add_exception_handler(exc, handler)
    app.add_exception_handler(ServiceUnavailable, _service_unavailable)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "console"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        try:
            await console.db.ping()
        except Exception as exc:
            return JSONResponse(
                {"status": "not ready", "failing": {"database": type(exc).__name__}}, 503
            )
        return JSONResponse({"status": "ready"})

    for module in PAGES:
        app.include_router(module.router())
    return app
