"""Keap's error bodies: v1's {"message": ...}; the gateway's (Apigee) fault for a credential it
does not accept; and its 429 when a quota is spent."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


class KeapHTTPError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def message(status: int, text: str) -> KeapHTTPError:
    return KeapHTTPError(status, {"message": text})


def invalid_credential() -> KeapHTTPError:
    return KeapHTTPError(
        401,
        {
            "fault": {
                "faultstring": "Invalid Access Token",
                "detail": {"errorcode": "keymanagement.service.invalid_access_token"},
            }
        },
    )


def throttled(headers: dict[str, str]) -> KeapHTTPError:
    # The body forum posts show for a spent quota [FORUM4]; no Retry-After is documented, the
    # x-keap-product-throttle-* headers say what is left.
    return KeapHTTPError(
        429, {"code": "429", "message": "Quota Exceeded", "status": "Request Throttled"}, headers
    )
