"""Keap errors mapped onto ledgerbridge's two kinds of failure."""

from __future__ import annotations

from typing import Any

from lb_common.errors import Cause, LedgerbridgeError, PermanentError, TransientError


class KeapError(LedgerbridgeError):
    status: int | None = None


class KeapUnavailable(KeapError, TransientError):
    """Network trouble or 5xx, still failing after the client's quick retries."""


class KeapRateLimited(KeapUnavailable):
    """429: the credential's quota for this minute (or day) is spent."""

    cause: Cause = "rate_limited"


class KeapAuthError(KeapError, PermanentError):
    """401/403: the API key or access token is missing, wrong or revoked."""


class KeapRejected(KeapError, PermanentError):
    """Another 4xx: the request itself is wrong."""


def describe(body: Any) -> str | None:
    """Keap's v1 errors say {"message"}; its gateway says {"fault": {"faultstring"}}."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("message"), str):
        return str(body["message"])
    fault = body.get("fault")
    if isinstance(fault, dict) and isinstance(fault.get("faultstring"), str):
        return str(fault["faultstring"])
    return None


def error_from_response(
    status: int, body: Any, *, what: str, retry_after: float | None
) -> KeapError:
    detail = describe(body)
    error: KeapError
    if status in (401, 403):
        error = KeapAuthError(
            f"Keap refused the API key while reading {what}: check the connection's "
            "shop.admin_token (a service account key or personal access token).",
            detail=detail,
        )
    elif status == 429:
        error = KeapRateLimited(
            f"Keap's quota is spent for now (429) while reading {what}; it will be tried again.",
            detail=detail,
            retry_after=retry_after,
        )
    elif status >= 500:
        error = KeapUnavailable(
            f"Keap is busy or unavailable ({status}) while reading {what}; it will be tried again.",
            detail=detail,
        )
    else:
        error = KeapRejected(f"Keap rejected the request for {what} ({status}).", detail=detail)
    error.status = status
    return error
