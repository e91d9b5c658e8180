"""e-conomic's error body: message, developerHint, logId, httpStatusCode, logTime, errors.

Validation problems are annotated like the payload: `{"currency": {"errors": [...]}}` for a
property, `{"lines": [{"arrayIndex": 0, "unitNetPrice": {"errors": [...]}}]}` inside arrays.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from .jsonio import EconomicJSONResponse

# Codes seen in e-conomic's documentation and live notes.
DOES_NOT_EXIST = "E06000"
SCALE_TOO_BIG = "E04740"
QUANTITY_MISSING = "E04730"
NO_PRODUCT_IDENTIFIER = "E04500"
# The sources show E04042 only for "dueDate is missing a value"; the sandbox uses it for every
# missing required property, since no other code for that case is documented.
MISSING_VALUE = "E04042"
# "a date earlier than `date`" for dueDate (EConomic.NET legacy-api-verification).
DUE_BEFORE_DATE = "E04760"
# Not documented anywhere read; sandbox-only codes are marked as such so nobody relies on them.
INVALID_VALUE = "SBX-INVALID"
ALREADY_EXISTS = "SBX-DUPLICATE"

Path = tuple[str | int, ...]


def new_log_id() -> str:
    return f"{secrets.token_hex(8)}-SBX"


def error_body(
    status: int,
    message: str,
    developer_hint: str,
    *,
    errors: Any = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message": message,
        "developerHint": developer_hint,
        "logId": new_log_id(),
        "httpStatusCode": status,
    }
    if errors is not None:
        body["errors"] = errors
    # e-conomic writes logTime without a zone; it is UTC.
    body["logTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if extra:
        body.update(extra)
    return body


class EconomicHTTPError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        developer_hint: str = "",
        *,
        errors: Any = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.developer_hint = developer_hint
        self.errors = errors
        self.extra = extra
        self.headers = headers

    def response(self) -> EconomicJSONResponse:
        body = error_body(
            self.status, self.message, self.developer_hint, errors=self.errors, extra=self.extra
        )
        return EconomicJSONResponse(body, status_code=self.status, headers=self.headers)


def not_found() -> EconomicHTTPError:
    return EconomicHTTPError(
        404,
        "Resource not found.",
        "The API tries to provide all the resource urls you need. Look at the enclosing "
        "collection for hypermedia information on where the resource could be.",
    )


class Problems:
    """Collects validation errors in e-conomic's annotated shape, then raises them as one 400."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}
        self.count = 0

    def add(self, path: Path, code: str, message: str, value: Any = None) -> None:
        entry: dict[str, Any] = {"errorCode": code, "message": message}
        if value is not None and not isinstance(value, dict | list):
            entry["value"] = value
        node = self.tree
        for i, key in enumerate(path):
            if isinstance(key, int):
                continue  # handled together with the array's name below
            following = path[i + 1] if i + 1 < len(path) else None
            # A property can carry errors of its own and of its items (a list sent where an
            # object belongs, with a null inside): both go in its item list, its own without an
            # arrayIndex.
            existing = node.get(key)
            if isinstance(following, int):
                if isinstance(existing, dict):
                    existing = node[key] = [existing]
                items = node.setdefault(key, []) if existing is None else existing
                match = next((x for x in items if x.get("arrayIndex") == following), None)
                if match is None:
                    match = {"arrayIndex": following}
                    items.append(match)
            elif isinstance(existing, list):
                match = next((x for x in existing if "arrayIndex" not in x), None)
                if match is None:
                    match = {}
                    existing.append(match)
            else:
                match = node.setdefault(key, {})
            node = match
        node.setdefault("errors", []).append(entry)
        self.count += 1

    def __bool__(self) -> bool:
        return self.count > 0

    def raise_if_any(self) -> None:
        if self:
            raise EconomicHTTPError(
                400,
                "Validation error.",
                "Inspect validation errors and correct your request.",
                errors=self.tree,
            )
