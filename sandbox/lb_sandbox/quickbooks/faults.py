"""QuickBooks Online's error bodies: a `Fault` with a list of `Error`s and a `type`.

Shapes per Intuit's "handling common errors" page: `{"Fault": {"Error": [{"Message", "Detail",
"code", "element"}], "type": "ValidationFault"}, "time": ...}`. Authentication failures (401)
come in lower case (`fault`, `error`, `message`, `detail`, `code`) with type AUTHENTICATION, as
Intuit's gateway answers them; a throttled call (429) carries code 3001 with
`message=ThrottleExceeded; errorCode=003001; statusCode=429` and type SERVICE.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..economic.jsonio import EconomicJSONResponse

# Codes the sources name (docs/ledger-port.md lists them with the client's mapping).
OBJECT_NOT_FOUND = "610"
REQUIRED_PARAM_MISSING = "2020"
INVALID_REFERENCE = "2500"
STRING_LENGTH = "2050"
INVALID_ENUM = "2030"
AMOUNT_MISMATCH = "6070"
STALE_OBJECT = "5010"
DUPLICATE_NAME = "6240"
QUERY_PARSER = "4000"
QUERY_INVALID = "4001"
THROTTLED = "3001"
AUTH_FAILED = "3200"
AUTHZ_FAILED = "3100"
SYSTEM_FAILURE = "10000"


def qbo_time() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class QuickBooksFault(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        detail: str,
        *,
        element: str = "",
        kind: str = "ValidationFault",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.kind = kind
        self.headers = headers

    def body(self) -> dict[str, Any]:
        if self.kind == "AUTHENTICATION":
            error = {"message": self.message, "detail": self.detail, "code": self.code}
            return {"fault": {"error": [error], "type": self.kind}, "time": qbo_time()}
        entry = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element:
            entry["element"] = self.element
        return {"Fault": {"Error": [entry], "type": self.kind}, "time": qbo_time()}

    def response(self) -> EconomicJSONResponse:
        return EconomicJSONResponse(self.body(), status_code=self.status, headers=self.headers)


def validation(code: str, message: str, detail: str, element: str = "") -> QuickBooksFault:
    return QuickBooksFault(400, code, message, detail, element=element)


def missing(element: str, entity: str) -> QuickBooksFault:
    return validation(
        REQUIRED_PARAM_MISSING,
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element,
    )


def not_found(entity: str, ident: str) -> QuickBooksFault:
    return validation(
        OBJECT_NOT_FOUND,
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive or deleted: "
        f"{entity} {ident}",
    )


def invalid_reference(element: str, ident: str) -> QuickBooksFault:
    return validation(
        INVALID_REFERENCE,
        "Invalid Reference Id",
        f"Invalid Reference Id : {element} assigned is invalid or deleted: {ident}",
        element,
    )


def authentication(detail: str) -> QuickBooksFault:
    return QuickBooksFault(
        401,
        AUTH_FAILED,
        "message=AuthenticationFailed; errorCode=003200; statusCode=401",
        detail,
        kind="AUTHENTICATION",
        headers={"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'},
    )


def authorization(detail: str) -> QuickBooksFault:
    return QuickBooksFault(
        403,
        AUTHZ_FAILED,
        "message=AuthorizationFailed; errorCode=003100; statusCode=403",
        detail,
        kind="SERVICE",
    )


def throttled(retry_after: int | None = None) -> QuickBooksFault:
    return QuickBooksFault(
        429,
        THROTTLED,
        "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "The request limit was reached. Try again later",
        kind="SERVICE",
        headers={"Retry-After": str(retry_after)} if retry_after else None,
    )


def system_failure(status: int) -> QuickBooksFault:
    return QuickBooksFault(
        status,
        SYSTEM_FAILURE,
        "An application error has occurred while processing your request",
        "System Failure Error: the service could not complete the request",
        kind="SystemFault",
    )
