"""What every /quickbooks/v3 call goes through, in QuickBooks' order: the bearer token (401 when
missing, unknown or expired; 403 for another company), the realm's throttle (500 requests a
minute, 10 a second and 10 at once, 429), configured faults, `minorversion`, and `requestid` (a repeated
POST is answered with the original reply, nothing runs again; a lost reply's write is kept, so
the retry gets it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from ..economic.faults import FaultRegistry
from ..economic.jsonio import EconomicJSONResponse
from .faults import (
    QuickBooksFault,
    authentication,
    authorization,
    qbo_time,
    system_failure,
    throttled,
    validation,
)
from .state import Company, QuickBooksWorld

Handler = Callable[[Company], Awaitable[tuple[int, Any]]]


def world(request: Request) -> QuickBooksWorld:
    found: QuickBooksWorld = request.app.state.quickbooks
    return found


def faults(request: Request) -> FaultRegistry:
    found: FaultRegistry = request.app.state.quickbooks_faults
    return found


def _authenticate(request: Request, realm_id: str) -> Company:
    w = world(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise authentication("Authorization header is missing or not a Bearer token")
    access = w.access.get(token.strip())
    if access is None:
        raise authentication("Token invalid: the access token is not known or was revoked")
    if access.expires_at <= time.time():
        raise authentication("Token expired: the access token is older than 3600 seconds")
    company = w.company(realm_id)
    if access.realm_id != realm_id or company is None:
        raise authorization(f"The token does not grant access to company {realm_id}")
    return company


def _throttle(request: Request, company: Company) -> None:
    settings = request.app.state.settings
    now = time.monotonic()
    while company.recent and company.recent[0] <= now - 60:
        company.recent.popleft()
    if company.in_flight >= settings.quickbooks_concurrent_requests:
        raise throttled()
    if len(company.recent) >= settings.quickbooks_requests_per_minute:
        raise throttled(retry_after=max(1, int(company.recent[0] + 60 - now) + 1))
    per_second = settings.quickbooks_requests_per_second
    if len(company.recent) >= per_second and company.recent[-per_second] > now - 1:
        raise throttled(retry_after=1)
    company.recent.append(now)


def _minor_version(request: Request) -> None:
    value = request.query_params.get("minorversion")
    if value is not None and not value.isdigit():
        raise validation(
            "2010",
            "Request has invalid or unsupported property",
            f"minorversion {value!r} is not a number",
            "minorversion",
        )


async def run(request: Request, realm_id: str, path: str, handler: Handler) -> Response:
    method = request.method
    try:
        company = _authenticate(request, realm_id)
        company.calls[f"{method} {path}"] += 1
        _throttle(request, company)
    except QuickBooksFault as fault:
        return fault.response()
    company.in_flight += 1
    try:
        return await _run_admitted(request, company, method, path, handler)
    finally:
        company.in_flight -= 1


async def _run_admitted(
    request: Request, company: Company, method: str, path: str, handler: Handler
) -> Response:
    lost = False
    for fault in faults(request).draw(method, path, company.realm_id):
        spec = fault.spec
        if spec.kind == "latency":
            await asyncio.sleep(spec.latency_ms / 1000)
        elif spec.kind == "rate_limit":
            return throttled(spec.retry_after).response()
        elif spec.kind == "error":
            return system_failure(spec.status).response()
        else:
            lost = True
    try:
        _minor_version(request)
    except QuickBooksFault as fault:
        return fault.response()
    request_id = request.query_params.get("requestid") if method == "POST" else None
    if request_id is not None and len(request_id) > 50:
        return validation(
            "2010",
            "Request has invalid or unsupported property",
            "requestid is longer than 50 characters",
            "requestid",
        ).response()
    cached = company.replies.get(request_id) if request_id else None
    if cached is not None:
        status, body = cached
    else:
        try:
            status, body = await handler(company)
        except QuickBooksFault as fault:
            status, body = fault.status, fault.body()
        except (AttributeError, TypeError, KeyError, ValueError):
            # A body of the wrong shape somewhere inside (a string where an object belongs):
            # QuickBooks refuses it as a property it cannot read.
            unreadable = validation(
                "2010",
                "Request has invalid or unsupported property",
                "Property Name:Can not read the request body: a property has the wrong type",
            )
            status, body = unreadable.status, unreadable.body()
        if request_id:
            company.replies[request_id] = (status, body)
    if lost:
        return system_failure(500).response()
    return EconomicJSONResponse(body, status_code=status)


def entity_reply(entity: str, row: dict[str, Any]) -> tuple[int, Any]:
    public = {k: v for k, v in row.items() if not k.startswith("_")}
    return 200, {entity: public, "time": qbo_time()}
