"""Shopify's error bodies: {"errors": <string | list | {field: [messages]}>}."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLED = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted "
    "service."
)


class ShopifyHTTPError(Exception):
    def __init__(self, status: int, errors: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(errors))
        self.status = status
        self.errors = errors
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse({"errors": self.errors}, status_code=self.status, headers=self.headers)


def unprocessable(errors: Any) -> ShopifyHTTPError:
    return ShopifyHTTPError(422, errors)


def not_found() -> ShopifyHTTPError:
    return ShopifyHTTPError(404, "Not Found")
