"""QuickBooks Online failures, mapped onto ledgerbridge's transient/permanent split.

QuickBooks answers a failure with a `Fault` (`{"Fault": {"Error": [{"Message", "Detail", "code",
"element"}], "type"}}`; authentication faults in lower case), sometimes inside a 200. The kind
follows from the status and the code:
- 429 (code 3001, ThrottleExceeded): rate limited, wait Retry-After;
- 5xx, network failures: unavailable, retried with backoff;
- 401 (3200) after a refresh, or a refused refresh token (`invalid_grant`): the connection must
  be connected again; 403 (3100): the app may not reach that company;
- 5010 (Stale Object): someone changed the object since we read it; read again and retry;
- 6240 (Duplicate Name Exists): the DisplayName is taken (the client applies the clash rule);
- 610 (Object Not Found) and 2500 (Invalid Reference Id): a referenced object is gone;
- any other 400: the content was refused.
Reasons quote QuickBooks' own Message and Detail and never contain a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lb_common.errors import Cause, Contention
from lb_connectors.ledger.errors import (
    LedgerAuthError,
    LedgerError,
    LedgerNotFound,
    LedgerRateLimited,
    LedgerRefused,
    LedgerUnavailable,
    RefusedField,
)

# `CustomerDetails`' field names → the Fault's `element` for a customer (the port's `blaming`).
_CUSTOMER_ELEMENTS = {
    "name": "DisplayName",
    "email": "PrimaryEmailAddr.Address",
    "phone": "PrimaryPhone.FreeFormNumber",
    "vat_id": "ResaleNum",
    "billing.lines": "BillAddr.Line1",
    "billing.zip": "BillAddr.PostalCode",
    "billing.city": "BillAddr.City",
    "billing.country": "BillAddr.Country",
}


@dataclass(frozen=True)
class FaultError:
    code: str
    message: str
    detail: str
    element: str

    def describe(self) -> str:
        where = f" ({self.element})" if self.element else ""
        text = self.detail or self.message
        return f"{text.rstrip('. ')}{where} [code {self.code}]"


class QuickBooksError(LedgerError):
    """Base of every QuickBooks failure (a kind of the ledger port's errors, which services
    catch); keeps the Fault's errors."""

    ledger_label = "QuickBooks"

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        errors: tuple[FaultError, ...] = (),
        fault_type: str | None = None,
        detail: str | None = None,
    ) -> None:
        LedgerError.__init__(self, reason, detail=detail)
        self.status = status
        self.errors = errors
        self.fault_type = fault_type

    @property
    def codes(self) -> set[str]:
        return {e.code for e in self.errors}

    @property
    def refused_fields(self) -> list[RefusedField]:
        return [RefusedField(e.element, e.detail or e.message) for e in self.errors if e.element]

    def shop_path(self, name: str) -> str:
        return _CUSTOMER_ELEMENTS.get(name, name)


class QuickBooksUnavailable(QuickBooksError, LedgerUnavailable):
    """Network failure, timeout or 5xx: the same request may succeed later."""

    def __init__(self, reason: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        QuickBooksError.__init__(self, reason, **kwargs)
        self.retry_after = retry_after


class QuickBooksRateLimited(QuickBooksUnavailable, LedgerRateLimited):
    """429 ThrottleExceeded: the company's 500 a minute or 10 at once are used up."""

    cause: Cause = "rate_limited"


class QuickBooksStale(QuickBooksError, Contention):
    """5010: the object changed since it was read (its SyncToken moved on)."""

    def __init__(self, reason: str, **kwargs: Any) -> None:
        QuickBooksError.__init__(self, reason, **kwargs)
        self.retry_after = None


class QuickBooksValidationError(QuickBooksError, LedgerRefused):
    """400 with a ValidationFault: resending the same content cannot help."""


class QuickBooksDuplicateName(QuickBooksValidationError):
    """6240: the DisplayName (or item Name) is used by another customer, vendor or employee."""


class QuickBooksNotFound(QuickBooksValidationError, LedgerNotFound):
    """610 / 2500: the object, or one it refers to, does not exist or is inactive."""


class QuickBooksAuthError(QuickBooksError, LedgerAuthError):
    """The company must be connected again: refresh token refused, access revoked, or the app
    may not reach this company."""


RECONNECT = (
    "QuickBooks refused the connection's tokens: connect the QuickBooks company again on "
    "ingest (the OAuth consent), then replay the parked orders"
)


def fault_errors(body: Any) -> tuple[str | None, tuple[FaultError, ...]]:
    """(type, errors) of a Fault body in either case; ((None, ()) when there is none)."""
    if not isinstance(body, Mapping):
        return None, ()
    fault = body.get("Fault") or body.get("fault")
    if not isinstance(fault, Mapping):
        return None, ()
    entries = fault.get("Error") or fault.get("error") or []
    errors = tuple(
        FaultError(
            code=str(e.get("code", "")),
            message=str(e.get("Message", e.get("message", ""))),
            detail=str(e.get("Detail", e.get("detail", ""))),
            element=str(e.get("element", "")),
        )
        for e in entries
        if isinstance(e, Mapping)
    )
    kind = fault.get("type")
    return (str(kind) if kind is not None else None), errors


def error_from_response(
    status: int,
    body: Any,
    *,
    what: str,
    request_line: str,
    retry_after: float | None = None,
) -> QuickBooksError:
    """The error for a failed answer (or a 200 carrying a Fault). `what` names the object."""
    kind, errors = fault_errors(body)
    codes = {e.code for e in errors}
    said = "; ".join(e.describe() for e in errors) or f"HTTP {status}"
    common: dict[str, Any] = {
        "status": status,
        "errors": errors,
        "fault_type": kind,
        "detail": f"{request_line} -> HTTP {status}",
    }
    if status == 429 or "3001" in codes:
        return QuickBooksRateLimited(
            f"QuickBooks is throttling the company's API calls (HTTP 429) for {what}; "
            "retrying later",
            retry_after=retry_after,
            **common,
        )
    if status >= 500:
        return QuickBooksUnavailable(
            f"QuickBooks failed while handling {what} (HTTP {status}); retrying later",
            retry_after=retry_after,
            **common,
        )
    if status in (401, 403):
        return QuickBooksAuthError(f"{RECONNECT} ({said})", **common)
    if "5010" in codes:
        return QuickBooksStale(f"{what} changed in QuickBooks meanwhile: {said}", **common)
    if "6240" in codes:
        return QuickBooksDuplicateName(f"QuickBooks refused {what}: {said}", **common)
    if codes & {"610", "2500"}:
        return QuickBooksNotFound(f"QuickBooks could not find {what}: {said}", **common)
    return QuickBooksValidationError(f"QuickBooks rejected {what}: {said}", **common)


def unavailable_from_exception(
    exc: Exception, *, what: str, request_line: str
) -> QuickBooksUnavailable:
    """Network-level failure: name the kind only (httpx messages may echo the URL)."""
    kind = type(exc).__name__
    return QuickBooksUnavailable(
        f"could not reach QuickBooks for {what} ({kind}); retrying later",
        detail=f"{request_line} -> {kind}",
    )
