"""Shopify errors mapped onto ledgerbridge's two kinds of failure."""

from __future__ import annotations

from typing import Any

from lb_common.errors import Cause, LedgerbridgeError, PermanentError, TransientError


class ShopifyError(LedgerbridgeError):
    status: int | None = None


class ShopifyUnavailable(ShopifyError, TransientError):
    """Network trouble, 5xx, or 429 still refused after waiting: try again later."""


class ShopifyRateLimited(ShopifyUnavailable):
    """429 still refused after the client's own waits: the shop's bucket is full for now."""

    cause: Cause = "rate_limited"


class ShopifyAuthError(ShopifyError, PermanentError):
    """401/403: the access token is missing, wrong, or lacks a scope."""


class ShopifyRejected(ShopifyError, PermanentError):
    """4xx other than auth and rate limit: the request itself is wrong (unknown item, …)."""


def describe_errors(errors: Any) -> str:
    """Shopify's `errors` is a string, a list, or {field: [messages]}; make one line of it."""
    if isinstance(errors, dict):
        parts = []
        for field, messages in errors.items():
            text = "; ".join(map(str, messages)) if isinstance(messages, list) else str(messages)
            parts.append(f"{field}: {text}")
        return ", ".join(parts)
    if isinstance(errors, list):
        return "; ".join(map(str, errors))
    return str(errors)


def error_from_response(
    status: int, body: Any, *, what: str, retry_after: float | None
) -> ShopifyError:
    errors = body.get("errors") if isinstance(body, dict) else None
    detail = describe_errors(errors) if errors is not None else None
    error: ShopifyError
    if status in (401, 403):
        error = ShopifyAuthError(
            f"Shopify refused the access token while reading or writing {what}.", detail=detail
        )
    elif status == 429:
        error = ShopifyRateLimited(
            f"Shopify is limiting the app's calls (429) for {what}; it will be tried again.",
            detail=detail,
            retry_after=retry_after,
        )
    elif status >= 500:
        error = ShopifyUnavailable(
            f"Shopify is busy or unavailable ({status}) for {what}; it will be tried again.",
            detail=detail,
            retry_after=retry_after,
        )
    else:
        error = ShopifyRejected(f"Shopify rejected {what} ({status}).", detail=detail)
    error.status = status
    return error
