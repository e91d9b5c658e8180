"""Helpers for the e-conomic tests: schema checks and a request-recording transport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "economic-schemas"
BASE_URL = "http://sandbox.test/economic"
APP_SECRET = "app-secret-s3cr3t"


def assert_schema(name: str, document: Any) -> None:
    """Validate against e-conomic's own draft-03 schema, e.g. `invoices.drafts.post`."""
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft3Validator(schema).validate(document)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests to the app and keeps them, so tests can check what the client sent."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    def bodies(self, method: str, path_suffix: str) -> list[Any]:
        return [
            json.loads(r.content)
            for r in self.requests
            if r.method == method and r.url.path.endswith(path_suffix) and r.content
        ]
