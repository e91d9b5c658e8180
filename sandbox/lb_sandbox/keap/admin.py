"""Sandbox-only endpoints for Keap: seed contacts and orders (each change queues its hook
event), refund an order as Keap's UI does, send what the hooks wait for, read a tenant's state, lower its quotas, issue an OAuth
access token. `{key}` is the tenant's API key (what X-Keap-API-Key carries)."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from . import delivery
from .errors import message
from .routes import overrides_of, public_hook, registry_of
from .state import Tenant

router = APIRouter(prefix="/_sandbox/keap/{key}")


def tenant_of(request: Request, key: str) -> Tenant:
    return registry_of(request).get_or_create(key)


class Deliver(BaseModel):
    duplicate: bool = False  # send each waiting event twice (a Keap retry after a slow answer)


class Limits(BaseModel):
    per_minute: int | None = Field(default=None, ge=1)
    per_day: int | None = Field(default=None, ge=1)


class HookState(BaseModel):
    status: Literal["Verified", "Unverified", "Inactive"]


@router.get("/state")
async def state(key: str, request: Request) -> Response:
    snapshot = tenant_of(request, key).snapshot()
    snapshot["hooks"] = [public_hook(h) for h in snapshot["hooks"]]
    return JSONResponse(snapshot)


@router.post("/contacts", status_code=201)
async def seed_contact(key: str, body: dict[str, Any], request: Request) -> Response:
    return JSONResponse(tenant_of(request, key).add_contact(body), status_code=201)


@router.put("/orders")
async def put_order(key: str, body: dict[str, Any], request: Request) -> Response:
    """Create an order (order.add) or, with an existing `id`, change it (order.edit)."""
    try:
        order = tenant_of(request, key).put_order(body)
    except KeyError as exc:
        raise message(400, str(exc.args[0])) from None
    return JSONResponse(order)


class RefundMade(BaseModel):
    amount: Decimal = Field(gt=0)


@router.post("/orders/{order_id}/refunds")
async def refund_order(key: str, order_id: int, body: RefundMade, request: Request) -> Response:
    """A refund made in Keap's UI: the order's refund_total grows (order.edit is queued)."""
    try:
        order = tenant_of(request, key).refund_order(order_id, body.amount)
    except KeyError as exc:
        raise message(404, str(exc.args[0])) from None
    except ValueError as exc:
        raise message(400, str(exc)) from None
    return JSONResponse(order)


@router.post("/hooks/deliver")
async def deliver(key: str, request: Request, body: Deliver | None = None) -> Response:
    tenant = tenant_of(request, key)
    async with delivery.client_for(request.app.state.keap_hook_transport) as client:
        sent = await delivery.deliver(tenant, client, duplicate=(body or Deliver()).duplicate)
    return JSONResponse({"sent": sent})


@router.put("/hooks/{hook_key}/status")
async def set_hook_status(key: str, hook_key: str, body: HookState, request: Request) -> Response:
    """Set a hook's status as Keap would after failures (Inactive), without sending them."""
    hook = tenant_of(request, key).hooks.get(hook_key)
    if hook is None:
        raise message(404, f"Hook subscription {hook_key} not found")
    hook["status"] = body.status
    return JSONResponse(public_hook(hook))


@router.post("/limits")
async def set_limits(key: str, body: Limits, request: Request) -> Response:
    overrides = overrides_of(request, tenant_of(request, key))
    overrides.per_minute, overrides.per_day = body.per_minute, body.per_day
    return JSONResponse(body.model_dump())


@router.post("/oauth/token")
async def issue_token(key: str, request: Request) -> Response:
    """An OAuth access token for this tenant (Keap's code flow ends with one)."""
    token = secrets.token_urlsafe(24)
    registry_of(request).access_tokens[token] = key
    return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": 86400})
