"""e-conomic failures, mapped onto ledgerbridge's transient/permanent split.

Every `reason` is written for a bookkeeper: it says what e-conomic refused and quotes e-conomic's
own message per field. Where a refused field was filled from the shop, `blame_shop_fields` names
the shop field and the value as the shop had it, and what to do. Tokens never appear here:
errors are built only from the status, the response body and the request path, none of which
carry the secret headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lb_common.errors import Cause, LedgerbridgeError, PermanentError
from lb_connectors.ledger.errors import SHOP_FIX as SHOP_FIX
from lb_connectors.ledger.errors import (
    LedgerAuthError,
    LedgerError,
    LedgerNotFound,
    LedgerRateLimited,
    LedgerRefused,
    LedgerUnavailable,
    RefusedField,
    ShopField,
)

_AUTH_REASON = "e-conomic refused the app's tokens: check the agreement grant"


class EconomicError(LedgerError):
    """Base of every e-conomic failure; keeps e-conomic's own error body fields. Each kind is
    also the ledger port's kind (lb_connectors.ledger.errors), which is what services catch."""

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        message: str | None = None,
        errors: Any = None,
        log_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        LedgerbridgeError.__init__(self, reason, detail=detail)
        self.status = status
        self.message = message
        self.errors = errors
        self.log_id = log_id

    @property
    def field_errors(self) -> list[FieldError]:
        return flatten_errors(self.errors)

    @property
    def refused_fields(self) -> list[RefusedField]:
        return [RefusedField(e.path, e.message) for e in self.field_errors]

    ledger_label = "e-conomic"

    def blaming(self, sources: Mapping[str, ShopField], *, fix: str = SHOP_FIX) -> EconomicError:
        """The port's rewording (names in `CustomerDetails`' terms), with e-conomic's words."""
        paths = {_CUSTOMER_PATHS.get(name, name): source for name, source in sources.items()}
        return blame_shop_fields(self, paths, fix=fix)


class EconomicUnavailable(EconomicError, LedgerUnavailable):
    """Network failure, timeout, 5xx or 429: the same request may succeed later."""

    def __init__(self, reason: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        EconomicError.__init__(self, reason, **kwargs)
        self.retry_after = retry_after


class EconomicRateLimited(EconomicUnavailable, LedgerRateLimited):
    """429: the agreement's call budget is used up for now; wait `retry_after`."""

    cause: Cause = "rate_limited"


class EconomicValidationError(EconomicError, LedgerRefused):
    """400/422: e-conomic refused the content; resending it unchanged cannot help."""


class EconomicAuthError(EconomicError, LedgerAuthError):
    """401/403: the grant was revoked or the app's role does not allow the call."""


class EconomicNotFound(EconomicError, LedgerNotFound):
    """404 on a write: the thing written to (e.g. the draft being booked) does not exist."""


class EconomicRejected(EconomicError, PermanentError):
    """Any other 4xx (405, 409, 415, ...): a request this client should not have sent."""


class FieldError:
    """One entry of e-conomic's annotated `errors`, with the JSON path it belongs to."""

    __slots__ = ("code", "message", "path", "value")

    def __init__(self, path: str, message: str, code: str | None, value: Any) -> None:
        self.path = path
        self.message = message
        self.code = code
        self.value = value

    def describe(self) -> str:
        text = self.message.rstrip(". ")
        where = f"{self.path}: " if self.path else ""
        return f"{where}{text} ({self.code})" if self.code else f"{where}{text}"

    def __repr__(self) -> str:
        return f"FieldError({self.describe()!r})"


def flatten_errors(errors: Any, path: str = "") -> list[FieldError]:
    """Walk e-conomic's annotated error tree (objects by property, arrays by `arrayIndex`)."""
    found: list[FieldError] = []
    if isinstance(errors, str):
        found.append(FieldError(path, errors, None, None))
    elif isinstance(errors, list):
        for item in errors:
            if isinstance(item, Mapping) and "arrayIndex" in item:
                found += flatten_errors(item, f"{path}[{item['arrayIndex']}]")
            elif isinstance(item, Mapping) and ("errorCode" in item or "message" in item):
                found.append(
                    FieldError(
                        path, str(item.get("message", "")), item.get("errorCode"), item.get("value")
                    )
                )
            else:
                found += flatten_errors(item, path)
    elif isinstance(errors, Mapping):
        for key, value in errors.items():
            if key == "arrayIndex":
                continue
            if key == "errors":
                found += flatten_errors(value, path)
            else:
                found += flatten_errors(value, f"{path}.{key}" if path else str(key))
    return found


def _body_fields(body: Any) -> tuple[str | None, Any, str | None]:
    if not isinstance(body, Mapping):
        return None, None, None
    message = body.get("message")
    log_id = body.get("logId")
    return (
        str(message) if message is not None else None,
        body.get("errors"),
        str(log_id) if log_id is not None else None,
    )


def error_from_response(
    status: int,
    body: Any,
    *,
    what: str,
    request_line: str,
    retry_after: float | None = None,
) -> EconomicError:
    """Build the right error for a non-2xx answer. `what` names the object, e.g. "the customer"."""
    message, errors, log_id = _body_fields(body)
    details = "; ".join(e.describe() for e in flatten_errors(errors)) or (message or "").rstrip(
        ". "
    )
    allowed = body.get("allowedFilteringFields") if isinstance(body, Mapping) else None
    if allowed:
        details += f" (filterable: {', '.join(map(str, allowed))})"
    detail = f"{request_line} -> HTTP {status}" + (f" (logId {log_id})" if log_id else "")
    common: dict[str, Any] = {
        "status": status,
        "message": message,
        "errors": errors,
        "log_id": log_id,
        "detail": detail,
    }
    if status == 429:
        reason = (
            f"e-conomic is limiting the agreement's API calls (HTTP 429) for {what}; retrying later"
        )
        return EconomicRateLimited(reason, retry_after=retry_after, **common)
    if status >= 500:
        reason = f"e-conomic failed while handling {what} (HTTP {status}); retrying later"
        return EconomicUnavailable(reason, retry_after=retry_after, **common)
    if status in (401, 403):
        suffix = f" ({message.rstrip('. ')})" if message else ""
        return EconomicAuthError(_AUTH_REASON + suffix, **common)
    if status == 404:
        return EconomicNotFound(f"e-conomic could not find {what}: {details}", **common)
    if status in (400, 422):
        return EconomicValidationError(f"e-conomic rejected {what}: {details}", **common)
    return EconomicRejected(f"e-conomic refused {what} (HTTP {status}): {details}", **common)


def unavailable_from_exception(
    exc: Exception, *, what: str, request_line: str
) -> EconomicUnavailable:
    """Network-level failure: name the kind of failure only (httpx messages may echo the URL)."""
    kind = type(exc).__name__
    return EconomicUnavailable(
        f"could not reach e-conomic for {what} ({kind}); retrying later",
        detail=f"{request_line} -> {kind}",
    )


# `CustomerDetails`' field names → e-conomic's customer properties (the port's `blaming`).
_CUSTOMER_PATHS = {
    "phone": "telephoneAndFaxNumber",
    "vat_id": "corporateIdentificationNumber",
    "number": "customerNumber",
    "billing.lines": "address",
    "billing.zip": "zip",
    "billing.city": "city",
    "billing.country": "country",
}


def blame_shop_fields(
    error: EconomicError, sources: Mapping[str, ShopField], *, fix: str = SHOP_FIX
) -> EconomicError:
    """`error` reworded when e-conomic refused fields filled from the shop; else `error` itself.

    `sources` maps e-conomic's field paths ("recipient.ean", "zip") to where their values came
    from. The new error keeps the kind, status and e-conomic's body of the original.
    """
    found = error.field_errors
    blamed = [(e, sources[e.path]) for e in found if e.path in sources]
    if not blamed:
        return error
    parts = [
        f"e-conomic refused the {src.what} '{src.value}' from {src.where}: "
        f"{e.message.rstrip('. ')}."
        for e, src in blamed
    ]
    others = [e.describe() for e in found if e.path not in sources]
    if others:
        parts.append(f"e-conomic also said: {'; '.join(others)}.")
    reworded = type(error)(
        " ".join([*parts, fix]),
        status=error.status,
        message=error.message,
        errors=error.errors,
        log_id=error.log_id,
        detail=error.detail,
    )
    return reworded.with_traceback(error.__traceback__)
