"""Shopify's error bodies outside GraphQL (auth, unknown paths): {"errors": <string | ...>}."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


class ShopifyHTTPError(Exception):
    def __init__(self, status: int, errors: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(errors))
        self.status = status
        self.errors = errors
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse({"errors": self.errors}, status_code=self.status, headers=self.headers)
