"""Keap's REST API v1 under /keap/crm/rest (real: https://api.infusionsoft.com/crm/rest): REST
hooks, orders (read, list, delete), contacts and the account profile, with Keap's
authentication and quotas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from . import delivery
from .errors import KeapHTTPError, invalid_credential, message
from .quota import Overrides, count_call
from .state import EVENT_KEYS, Credential, Entity, KeapRegistry, Tenant

router = APIRouter(prefix="/v1")

MAX_LIMIT = 1000


def registry_of(request: Request) -> KeapRegistry:
    registry: KeapRegistry = request.app.state.keap
    return registry


def overrides_of(request: Request, tenant: Tenant) -> Overrides:
    found: dict[str, Overrides] = request.app.state.keap_limits
    return found.setdefault(tenant.key, Overrides())


def authenticate(request: Request) -> tuple[Tenant, dict[str, str]]:
    """The tenant a call is for (X-Keap-API-Key: PAT or service account key; or an OAuth
    bearer token), with its call counted against that credential's quota."""
    registry = registry_of(request)
    credential: Credential
    api_key = request.headers.get("x-keap-api-key", "").strip()
    bearer = request.headers.get("authorization", "")
    if api_key:
        key, credential = api_key, "api_key"
    elif bearer.lower().startswith("bearer ") and bearer[7:].strip():
        token = bearer[7:].strip()
        if token not in registry.access_tokens:
            raise invalid_credential()
        key, credential = registry.access_tokens[token], "oauth"
    else:
        raise invalid_credential()
    tenant = registry.get_or_create(key)
    return tenant, count_call(tenant, credential, overrides_of(request, tenant))


def _json(body: Any, headers: dict[str, str], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def public_hook(hook: Entity) -> Entity:
    return {k: v for k, v in hook.items() if not k.startswith("_")}


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise message(400, "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise message(400, "Request body must be a JSON object")
    return body


# --- REST hooks -------------------------------------------------------------------------------


@router.get("/hooks/event_keys")
async def event_keys(request: Request) -> Response:
    _, headers = authenticate(request)
    return _json(list(EVENT_KEYS), headers)


@router.get("/hooks")
async def list_hooks(request: Request) -> Response:
    tenant, headers = authenticate(request)
    return _json([public_hook(h) for h in tenant.hooks.values()], headers)


def _hook_fields(body: dict[str, Any]) -> tuple[str, str]:
    event_key, hook_url = body.get("eventKey"), body.get("hookUrl")
    if not isinstance(event_key, str) or event_key not in EVENT_KEYS:
        raise message(400, f"Invalid eventKey: {event_key!r}")
    if not isinstance(hook_url, str) or not hook_url.startswith(("http://", "https://")):
        raise message(400, "hookUrl must be an absolute http(s) URL")
    return event_key, hook_url


@router.post("/hooks")
async def create_hook(request: Request) -> Response:
    """Subscribe: the handshake runs before the answer, which says Verified or Unverified."""
    tenant, headers = authenticate(request)
    event_key, hook_url = _hook_fields(await _body(request))
    hook = tenant.add_hook(event_key, hook_url)
    async with delivery.client_for(request.app.state.keap_hook_transport) as client:
        await delivery.handshake(tenant, hook, client)
    return _json(public_hook(hook), headers)


def _hook(tenant: Tenant, key: str) -> Entity:
    hook = tenant.hooks.get(key)
    if hook is None:
        raise message(404, f"Hook subscription {key} not found")
    return hook


@router.get("/hooks/{key}")
async def get_hook(key: str, request: Request) -> Response:
    tenant, headers = authenticate(request)
    return _json(public_hook(_hook(tenant, key)), headers)


@router.put("/hooks/{key}")
async def update_hook(key: str, request: Request) -> Response:
    tenant, headers = authenticate(request)
    hook = _hook(tenant, key)
    hook["eventKey"], hook["hookUrl"] = _hook_fields(await _body(request))
    async with delivery.client_for(request.app.state.keap_hook_transport) as client:
        await delivery.handshake(tenant, hook, client)
    return _json(public_hook(hook), headers)


@router.delete("/hooks/{key}")
async def delete_hook(key: str, request: Request) -> Response:
    tenant, headers = authenticate(request)
    _hook(tenant, key)
    del tenant.hooks[key]
    tenant.pending.pop(key, None)
    return Response(status_code=204, headers=headers)


@router.post("/hooks/{key}/verify")
async def verify_hook(key: str, request: Request) -> Response:
    """The handshake again: how an Unverified or Inactive hook becomes Verified."""
    tenant, headers = authenticate(request)
    hook = _hook(tenant, key)
    async with delivery.client_for(request.app.state.keap_hook_transport) as client:
        await delivery.handshake(tenant, hook, client)
    return _json(public_hook(hook), headers)


@router.post("/hooks/{key}/delayedVerify")
async def delayed_verify(key: str, request: Request) -> Response:
    """A subscriber that could not echo the handshake at once presents its X-Hook-Secret here."""
    tenant, headers = authenticate(request)
    hook = _hook(tenant, key)
    presented = request.headers.get(delivery.HANDSHAKE_HEADER)
    if not presented or presented != hook.get("_secret"):
        raise message(400, "X-Hook-Secret does not match the last handshake")
    hook["status"] = "Verified"
    return _json(public_hook(hook), headers)


# --- orders, contacts, account ---------------------------------------------------------------


def _when(value: str | None, name: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise message(400, f"Invalid date for {name}: {value!r}") from None
    if parsed.tzinfo is None:
        raise message(400, f"Invalid date for {name}: {value!r} has no time zone")
    return parsed


def _int_param(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= high:
        raise message(400, f"Invalid {name}: {raw!r} (0 to {high})")
    return int(raw)


@router.get("/orders")
async def list_orders(request: Request) -> Response:
    """Orders changed in [since, until) (by modification_date), id order, paged by limit and
    offset; `contact_id` and `paid` filter as Keap's do."""
    tenant, headers = authenticate(request)
    since = _when(request.query_params.get("since"), "since")
    until = _when(request.query_params.get("until"), "until")
    limit = _int_param(request, "limit", MAX_LIMIT, MAX_LIMIT)
    offset = _int_param(request, "offset", 0, 10**9)
    contact = request.query_params.get("contact_id")
    paid = request.query_params.get("paid")
    found = []
    for order in sorted(tenant.orders.values(), key=lambda o: o["id"]):
        changed = datetime.fromisoformat(order["modification_date"])
        if since is not None and changed < since:
            continue
        if until is not None and changed >= until:
            continue
        if contact is not None and str(order["contact"]["id"]) != contact:
            continue
        if paid is not None and (order["status"] == "PAID") != (paid.lower() == "true"):
            continue
        found.append(order)
    page = found[offset : offset + limit]
    body: Entity = {"orders": page, "count": len(found)}
    base = str(request.url).split("?")[0]
    if offset + limit < len(found):
        query = dict(request.query_params) | {"offset": str(offset + limit), "limit": str(limit)}
        body["next"] = f"{base}?" + "&".join(f"{k}={v}" for k, v in query.items())
    return _json(body, headers)


def _id(value: str, what: str) -> int:
    if not value.isdigit():
        raise message(400, f"Invalid {what} id: {value!r}")
    return int(value)


@router.get("/orders/{order_id}")
async def get_order(order_id: str, request: Request) -> Response:
    tenant, headers = authenticate(request)
    order = tenant.orders.get(_id(order_id, "order"))
    if order is None:
        raise KeapHTTPError(404, {"message": f"Order {order_id} not found"}, headers)
    return _json(order, headers)


@router.delete("/orders/{order_id}")
async def delete_order(order_id: str, request: Request) -> Response:
    tenant, headers = authenticate(request)
    try:
        tenant.delete_order(_id(order_id, "order"))
    except KeyError:
        raise KeapHTTPError(404, {"message": f"Order {order_id} not found"}, headers) from None
    return Response(status_code=204, headers=headers)


@router.get("/contacts/{contact_id}")
async def get_contact(contact_id: str, request: Request) -> Response:
    tenant, headers = authenticate(request)
    contact = tenant.contacts.get(_id(contact_id, "contact"))
    if contact is None:
        raise KeapHTTPError(404, {"message": f"Contact {contact_id} not found"}, headers)
    return _json(contact, headers)


@router.get("/account/profile")
async def account_profile(request: Request) -> Response:
    tenant, headers = authenticate(request)
    return _json(
        {"name": "Sandbox tenant", "currency_code": tenant.currency_code},
        headers,
    )
