"""Token check and agreement lookup: every /economic request needs both e-conomic headers."""

from __future__ import annotations

from fastapi import Request

from ..settings import SandboxSettings
from .errors import EconomicHTTPError
from .state import Agreement, AgreementRegistry

DEMO_TOKEN = "demo"


def _unauthorized() -> EconomicHTTPError:
    return EconomicHTTPError(
        401,
        "The request is not authorized: X-AppSecretToken and X-AgreementGrantToken are required.",
        "Send both headers on every request. To try the API without tokens, use the demo "
        "agreement: X-AppSecretToken: demo and X-AgreementGrantToken: demo, or ?demo=true.",
    )


def str_base(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}/economic"


def grant_token_of(request: Request) -> str | None:
    if request.query_params.get("demo", "").lower() == "true":
        return DEMO_TOKEN
    app_secret = request.headers.get("X-AppSecretToken", "").strip()
    grant = request.headers.get("X-AgreementGrantToken", "").strip()
    return grant if app_secret and grant else None


async def current_agreement(request: Request) -> Agreement:
    # async: FastAPI runs a plain `def` dependency on its thread pool, a hand-over per call
    token = grant_token_of(request)
    if token is None:
        raise _unauthorized()
    settings: SandboxSettings = request.app.state.settings
    if token == DEMO_TOKEN and request.method != "GET" and not settings.demo_writable:
        # Real e-conomic's demo agreement accepts GET only.
        raise EconomicHTTPError(
            403, "The demo agreement is read-only.", "Use your own agreement's tokens to write."
        )
    registry: AgreementRegistry = request.app.state.registry
    if not registry.app_allowed(token, request.headers.get("X-AppSecretToken", "").strip()):
        raise _unauthorized()  # a grant token only works with the app it was granted to
    return registry.get_or_create(token, str_base(request))
