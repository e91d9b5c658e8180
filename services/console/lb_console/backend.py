"""The services' admin APIs, as the console calls them: one httpx client per service, with the
admin token. A service that does not answer becomes a readable message on the page, not a 500."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

SERVICES = ("ingest", "customers", "invoicing", "inventory")


class ServiceUnavailable(Exception):
    """A service could not be reached or answered with a server error."""


@dataclass
class Answer:
    status: int
    body: Any
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error(self) -> str:
        """What went wrong, from the service's own words (FastAPI's `detail` or our `error`)."""
        if isinstance(self.body, dict):
            for name in ("detail", "error", "message"):
                if self.body.get(name):
                    return str(self.body[name])
        return self.text or f"HTTP {self.status}"


class Services:
    def __init__(
        self,
        urls: Mapping[str, str],
        admin_token: str,
        *,
        timeout: float,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        transports = transports or {}
        self.clients = {
            name: httpx.AsyncClient(
                base_url=urls[name],
                headers={"Authorization": f"Bearer {admin_token}"},
                timeout=timeout,
                transport=transports.get(name),
            )
            for name in SERVICES
        }

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Answer:
        cleaned = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = await self.clients[service].request(method, path, params=cleaned, json=json)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{service} did not answer ({type(exc).__name__})") from exc
        if response.status_code >= 500 and response.status_code != 503:
            raise ServiceUnavailable(f"{service} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        return Answer(response.status_code, body, response.text)

    async def get(self, service: str, path: str, **params: Any) -> Answer:
        return await self.call(service, "GET", path, params=params)

    async def raw(self, service: str, path: str) -> httpx.Response:
        try:
            return await self.clients[service].get(path)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{service} did not answer ({type(exc).__name__})") from exc

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
