"""The webhook endpoint's route: in OpenAPI like any FastAPI route, served as a plain Starlette
route.

A FastAPI route solves its endpoint's parameters and dependencies on every request and wraps it
in two exit stacks: 8 % more instructions per webhook in the app (counted with callgrind in
commit 5dff1c9). An 11 kB POST through the ASGI app alone (fastest of 9 runs of 4,000, loaded
2-core machine): 34 µs as a Starlette route, 35 µs as registered here, 39 µs through FastAPI's
request wrapper even with the bare endpoint, 65 µs as a regular FastAPI route. The webhook is the
hottest path, so `add_raw_route` declares it once and registers it twice:

- a `starlette.routing.Route`, first, which serves every request: the endpoint gets the bare
  `Request`, reads its own path parameters and returns its `Response`;
- a FastAPI route from the same declaration, which puts the operation in OpenAPI (and in
  docs/admin-api.md). It sits behind the Starlette route, which matches first; were it reached,
  it would call the same endpoint with the bare request.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

RawEndpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class _DocumentedRoute(APIRoute):
    """The FastAPI half of `add_raw_route`: its handler is the endpoint itself."""

    def get_route_handler(self) -> RawEndpoint:
        endpoint: RawEndpoint = self.endpoint
        return endpoint


def add_raw_route(
    router: APIRouter, path: str, endpoint: RawEndpoint, *, methods: list[str], **docs: Any
) -> None:
    """Serve `endpoint` at `path` as a plain Starlette route; `docs` (summary, responses,
    openapi_extra, ...) describe it in OpenAPI as they would a FastAPI route."""
    router.add_route(path, endpoint, methods=methods, include_in_schema=False)
    router.add_api_route(
        path, endpoint, methods=methods, route_class_override=_DocumentedRoute, **docs
    )
