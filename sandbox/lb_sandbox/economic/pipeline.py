"""What every /economic call passes through before and after its endpoint.

Order matters: faults that replace the call run first; then the token bucket; then the
idempotency cache; then the endpoint. A `lost_reply` fault acts last, after the result was
cached, so a retry with the same Idempotency-Key receives the result the caller never saw (for a
POST only when `idempotent_post` is on; otherwise the repeat runs again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from ..settings import SandboxSettings
from .auth import grant_token_of, str_base
from .errors import EconomicHTTPError
from .faults import Fault, FaultRegistry
from .state import Agreement, AgreementRegistry

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
PREFIX = "/economic"
_WRITES = {"POST", "PUT", "DELETE", "PATCH"}


def _unavailable(status: int) -> EconomicHTTPError:
    return EconomicHTTPError(
        status, "Service unavailable (sandbox fault).", "Either try again, or contact our support."
    )


def _too_many(agreement: Agreement, cost: int, retry_after: int | None) -> Response:
    wait = (
        retry_after
        if retry_after is not None
        else max(1, round(agreement.bucket.seconds_until(cost)))
    )
    error = EconomicHTTPError(
        429,
        "Too many requests: the agreement's API call limit is used up.",
        "Slow down; the X-RateLimiting header shows the bucket.",
        headers={"Retry-After": str(wait)},
    )
    return error.response()


def _with_meter(response: Response, agreement: Agreement, cost: int) -> Response:
    response.headers["X-CallCost"] = str(cost)
    response.headers["X-RateLimiting"] = agreement.bucket.header()
    return response


async def _run(handler: Handler, request: Request) -> Response:
    try:
        return await handler(request)
    except EconomicHTTPError as exc:
        return exc.response()


async def _with_idempotency(
    handler: Handler, request: Request, agreement: Agreement, *, replay_post: bool
) -> Response:
    key = request.headers.get("Idempotency-Key")
    if not key or request.method not in _WRITES:
        return await _run(handler, request)  # GET is not supported, as documented
    if request.method == "POST" and not replay_post:
        return await _run(handler, request)  # unconfirmed for restapi: settings.idempotent_post
    cache = agreement.idempotency
    slot = (request.method, request.url.path, key)
    fingerprint = cache.fingerprint(await request.body())
    while True:
        cached = cache.lookup(slot)
        if cached is not None:
            if cached.fingerprint != fingerprint:
                raise EconomicHTTPError(
                    400,
                    "Idempotency-Key was already used for a different request.",
                    "Use a new Idempotency-Key for every distinct request.",
                )
            replay = Response(cached.body, status_code=cached.status, headers=dict(cached.headers))
            replay.headers["X-ResultFromCache"] = "true"
            return replay
        running = cache.begin(slot)
        if running is None:
            break
        await running.wait()  # then replay its result, or run ourselves if it failed
    try:
        response = await _run(handler, request)
    except BaseException:
        cache.abandon(slot)
        raise
    body = bytes(response.body)
    headers = tuple(
        (k, v) for k, v in response.headers.items() if k.lower() in ("content-type", "location")
    )
    cache.finish(slot, fingerprint, response.status_code, body, headers)
    return response


def _refusal(fired: list[Fault], agreement: Agreement, cost: int) -> Response | None:
    """An `error` or `rate_limit` fault answers instead of the endpoint (nothing is written)."""
    for fault in fired:
        if fault.spec.kind == "error":
            return _unavailable(fault.spec.status).response()
        if fault.spec.kind == "rate_limit":
            # Show a full bucket, so X-RateLimiting agrees with the 429.
            agreement.bucket.exhaust()
            return _too_many(agreement, cost, fault.spec.retry_after)
    return None


class EconomicRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        endpoint = super().get_route_handler()

        async def handler(request: Request) -> Response:
            token = grant_token_of(request)
            if token is None:
                return await endpoint(request)  # the endpoint's dependency answers 401
            settings: SandboxSettings = request.app.state.settings
            registry: AgreementRegistry = request.app.state.registry
            faults: FaultRegistry = request.app.state.faults
            agreement = registry.get_or_create(token, str_base(request))
            cost = settings.call_cost
            path = request.url.path.removeprefix(request.scope.get("root_path", "")).removeprefix(
                PREFIX
            )
            agreement.calls[f"{request.method} {self.path_format}"] += 1
            fired = faults.draw(request.method, path, token)
            refusal = _refusal(fired, agreement, cost)
            if refusal is not None:
                return _with_meter(refusal, agreement, 0)
            if not agreement.bucket.take(cost):
                return _with_meter(_too_many(agreement, cost, None), agreement, 0)
            delay = sum(f.spec.latency_ms for f in fired if f.spec.kind == "latency") / 1000

            async def slow_endpoint(req: Request) -> Response:
                # Latency is spent "inside" the call, as a slow server would, so a retry
                # arriving meanwhile meets the claimed Idempotency-Key. The request was received
                # whole first: a caller that stops waiting does not undo the write.
                await req.body()
                await asyncio.sleep(delay)
                return await endpoint(req)

            try:
                response = await _with_idempotency(
                    slow_endpoint if delay else endpoint,
                    request,
                    agreement,
                    replay_post=settings.idempotent_post,
                )
            except EconomicHTTPError as exc:
                response = exc.response()
            if any(f.spec.kind == "lost_reply" for f in fired):
                # The write is done (and cached under its Idempotency-Key); the caller sees a 500.
                response = _unavailable(500).response()
            return _with_meter(response, agreement, cost)

        return handler
