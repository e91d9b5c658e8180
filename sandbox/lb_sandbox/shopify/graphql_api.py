"""POST /shopify/admin/api/{version}/graphql.json: the GraphQL Admin API as Shopify documents
it, for the part ledgerbridge uses.

Every request passes, in order: the access token (401), the version (one this sandbox serves;
an older one falls forward to the oldest served, as Shopify does), faults asked for by tests,
validation of the document against `admin_schema.graphql` (errors come back HTTP 200), the
calculated query cost (over 1,000: refused) and the shop's points bucket (requested cost
reserved, THROTTLED with HTTP 200 when it does not fit, the unused part refunded). Each answer
carries `extensions.cost`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    build_schema,
    execute_sync,
    parse,
    validate,
    value_from_ast_untyped,
)
from graphql.error import GraphQLSyntaxError

from . import bulk
from .errors import INVALID_TOKEN
from .graphql_cost import MAX_QUERY_COST, query_cost
from .graphql_objects import Objects, gid, gid_number
from .state import Entity, Shop, ShopRegistry, now_text

TOKEN_HEADER = "X-Shopify-Access-Token"
SCHEMA_FILE = Path(__file__).with_name("admin_schema.graphql")
# Versions whose rules this sandbox follows (2026-04 made changeFromQuantity required and
# removed compareQuantity). Older names fall forward to the oldest of these.
SERVED_VERSIONS = ("2026-04", "2026-07", "2026-10", "2027-01")
_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$")
# `reason` values inventorySetQuantities accepts (Shopify's inventory reasons list).
REASONS = {
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_created",
    "movement_updated",
    "movement_received",
    "movement_canceled",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
}
QUANTITY_NAMES = {"available", "on_hand"}

router = APIRouter()


@cache
def schema() -> GraphQLSchema:
    return build_schema(SCHEMA_FILE.read_text(encoding="utf-8"))


def registry_of(request: Request) -> ShopRegistry:
    registry: ShopRegistry = request.app.state.shops
    return registry


def served_version(asked: str) -> str | None:
    if asked == "unstable":
        return SERVED_VERSIONS[-1]
    if not _VERSION.match(asked):
        return None
    if asked > SERVED_VERSIONS[-1]:
        return None
    return max(asked, SERVED_VERSIONS[0])


def _error(message: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extra}}


def _answer(body: dict[str, Any], version: str, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, headers={"X-Shopify-API-Version": version})


@router.post("/admin/api/{version}/graphql.json")
async def graphql_endpoint(version: str, request: Request) -> Response:
    """Shopify's GraphQL Admin API (the part ledgerbridge uses), costed and throttled."""
    token = request.headers.get(TOKEN_HEADER, "").strip()
    if not token:
        return JSONResponse({"errors": INVALID_TOKEN}, status_code=401)
    served = served_version(version)
    if served is None:
        return JSONResponse({"errors": "Not Found"}, status_code=404)
    registry = registry_of(request)
    shop = registry.get_or_create(token)
    if _take_fault(shop, "unavailable"):
        return _answer({"errors": "Service Unavailable"}, served, 503)
    try:
        payload = await request.json()
    except ValueError:
        return _answer({"errors": "Bad Request: the body is not JSON"}, served, 400)
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return _answer({"errors": {"query": "Required parameter missing or invalid"}}, served, 400)
    variables = payload.get("variables") or {}
    operation_name = payload.get("operationName")
    try:
        document = parse(payload["query"])
    except GraphQLSyntaxError as exc:
        return _answer({"errors": [{"message": exc.message, "locations": _locations(exc)}]}, served)
    invalid = validate(schema(), document)
    if invalid:
        return _answer(
            {"errors": [{"message": e.message, "locations": _locations(e)} for e in invalid]},
            served,
        )
    requested = query_cost(schema(), document, operation_name, variables)
    if requested > MAX_QUERY_COST:
        return _answer(
            {
                "errors": [
                    _error(
                        f"Query cost is {requested}, which exceeds the single query max cost "
                        f"limit ({MAX_QUERY_COST}).",
                        "MAX_COST_EXCEEDED",
                        cost=requested,
                        maxCost=MAX_QUERY_COST,
                    )
                ],
                "extensions": _cost(shop, requested, None),
            },
            served,
        )
    if _take_fault(shop, "throttled"):
        shop.points.drain()
    if not shop.points.take(requested):
        return _answer(
            {
                "errors": [
                    _error(
                        "Throttled",
                        "THROTTLED",
                        documentation="https://shopify.dev/api/usage/rate-limits",
                    )
                ],
                "extensions": _cost(shop, requested, None),
            },
            served,
        )
    if _take_fault(shop, "internal_error"):
        shop.points.refund(requested)
        return _answer(
            {
                "errors": [
                    _error(
                        "Internal error. Looks like something went wrong.", "INTERNAL_SERVER_ERROR"
                    )
                ]
            },
            served,
        )
    context = Context(shop, registry, str(request.base_url), request.app.state.settings, variables)
    result = execute_sync(
        schema(),
        document,
        root_value={**Objects(shop).query(), **context.mutations()},
        variable_values=variables,
        operation_name=operation_name,
    )
    actual = query_cost(schema(), document, operation_name, variables, result.data or {})
    actual = min(actual, requested)
    shop.points.refund(requested - actual)
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [e.formatted for e in result.errors]
    body["extensions"] = _cost(shop, requested, actual)
    return _answer(body, served)


@router.get("/bulk-results/{name}.jsonl")
async def bulk_result(name: str, request: Request) -> Response:
    """A finished bulk operation's JSONL (a signed storage URL at Shopify: no token needed)."""
    body = registry_of(request).bulk_results.get(name)
    if body is None:
        return Response(status_code=404)
    return Response(body, media_type="application/jsonl")


def _take_fault(shop: Shop, kind: str) -> bool:
    if shop.faults.get(kind, 0) > 0:
        shop.faults[kind] -= 1
        return True
    return False


def _locations(error: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in error.locations or []]


def _cost(shop: Shop, requested: int, actual: int | None) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": shop.points.status(),
        }
    }


#: Destinations Shopify takes for a webhook subscription: an HTTPS address, a Google Pub/Sub
#: topic or an Amazon EventBridge event source (shopify.dev "Deliver webhooks through HTTPS":
#: "an HTTPS webhook address with a valid SSL certificate"; app security check
#: INSECURE_WEBHOOK_URL). Plain http is refused with "Address is invalid".
WEBHOOK_SCHEMES = ("https://", "pubsub://", "arn:aws:events:")
LOOPBACK_HOSTS = ("localhost", "::1")


def _acceptable_webhook_address(uri: str, allow_http_loopback: bool) -> bool:
    """Shopify's rule, and, only when the sandbox is told so (`make up`), http on loopback."""
    if uri.startswith(WEBHOOK_SCHEMES):
        return True
    if not allow_http_loopback or not uri.startswith("http://"):
        return False
    host = urlsplit(uri).hostname or ""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def idempotency_key(info: GraphQLResolveInfo, variables: dict[str, Any]) -> str | None:
    for directive in info.field_nodes[0].directives or ():
        if directive.name.value == "idempotent":
            for arg in directive.arguments or ():
                if arg.name.value == "key":
                    value = value_from_ast_untyped(arg.value, variables)
                    return str(value) if value is not None else None
    return None


class Context:
    """The mutations, bound to one request's shop."""

    def __init__(
        self,
        shop: Shop,
        registry: ShopRegistry,
        base_url: str,
        settings: Any,
        variables: dict[str, Any],
    ) -> None:
        self.variables = variables
        self.shop = shop
        self.registry = registry
        self.base_url = base_url
        self.settings = settings

    def mutations(self) -> dict[str, Any]:
        return {
            "bulkOperationRunQuery": self.bulk_operation_run_query,
            "inventorySetQuantities": self.inventory_set_quantities,
            "webhookSubscriptionCreate": self.webhook_subscription_create,
            "webhookSubscriptionDelete": self.webhook_subscription_delete,
        }

    def bulk_operation_run_query(
        self, info: GraphQLResolveInfo, query: str, groupObjects: bool = False
    ) -> Entity:
        op, errors = bulk.start(
            self.shop,
            self.registry,
            schema(),
            query,
            base_url=self.base_url,
            delay=self.settings.shopify_bulk_delay_seconds,
        )
        return {"bulkOperation": bulk.public(op) if op else None, "userErrors": errors}

    def inventory_set_quantities(self, info: GraphQLResolveInfo, input: Entity) -> Entity:
        key = idempotency_key(info, self.variables)
        fingerprint = hashlib.sha256(json.dumps(input, sort_keys=True).encode()).hexdigest()
        if key is not None and key in self.shop.idempotent:
            seen, answer = self.shop.idempotent[key]
            if seen != fingerprint:
                return _user_errors(
                    [
                        (
                            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                            ["input"],
                            "The same idempotency key was used with different parameters.",
                        )
                    ]
                )
            answer_copy: Entity = answer
            return answer_copy  # the same request again: its first answer, applied once
        answer = self._set_quantities(input)
        if key is not None:
            self.shop.idempotent[key] = (fingerprint, answer)
        return answer

    def _set_quantities(self, input: Entity) -> Entity:
        shop = self.shop
        errors: list[tuple[str, list[str], str]] = []
        if input["name"] not in QUANTITY_NAMES:
            errors.append(("INVALID_NAME", ["input", "name"], "The quantity name is invalid."))
        if input["reason"] not in REASONS:
            errors.append(("INVALID_REASON", ["input", "reason"], "The reason is invalid."))
        planned: list[tuple[int, int, int, int]] = []  # item, location, quantity, before
        for index, q in enumerate(input["quantities"]):
            path = ["input", "quantities", str(index)]
            item = gid_number(q["inventoryItemId"], "InventoryItem")
            location = gid_number(q["locationId"], "Location")
            if "changeFromQuantity" not in q:
                # 2026-04: the field is required (null opts out). Code as the sandbox names it.
                errors.append(
                    (
                        "COMPARE_QUANTITY_REQUIRED",
                        [*path, "changeFromQuantity"],
                        "changeFromQuantity is required; pass null to skip the check.",
                    )
                )
                continue
            if item is None or not shop.item_exists(item):
                errors.append(
                    ("INVALID_INVENTORY_ITEM", [*path, "inventoryItemId"], "The item is invalid.")
                )
                continue
            if location is None or location not in shop.locations:
                errors.append(
                    ("INVALID_LOCATION", [*path, "locationId"], "The location is invalid.")
                )
                continue
            level = shop.levels.get((item, location))
            if level is None:
                errors.append(
                    (
                        "ITEM_NOT_STOCKED_AT_LOCATION",
                        [*path, "locationId"],
                        "The specified inventory item is not stocked at the location.",
                    )
                )
                continue
            before = int(level["available"] or 0)
            expected = q["changeFromQuantity"]
            if expected is not None and expected != before:
                errors.append(
                    (
                        "CHANGE_FROM_QUANTITY_STALE",
                        [*path, "changeFromQuantity"],
                        "The specified change from quantity does not match the current quantity.",
                    )
                )
                continue
            planned.append((item, location, int(q["quantity"]), before))
        if errors:
            # Nothing is applied when any quantity is refused.
            return _user_errors(errors)
        changes = []
        for item, location, quantity, before in planned:
            shop.set_level(item, location, quantity)
            changes.append(
                {
                    "name": input["name"],
                    "delta": quantity - before,
                    "quantityAfterChange": quantity,
                    "item": Objects(shop).item(item),
                    "location": Objects(shop).location(shop.locations[location]),
                    "ledgerDocumentUri": None,
                }
            )
        group = {
            "__typename": "InventoryAdjustmentGroup",
            "id": gid("InventoryAdjustmentGroup", shop.next_id()),
            "createdAt": now_text(),
            "reason": input["reason"],
            "referenceDocumentUri": input.get("referenceDocumentUri"),
            "changes": lambda info, **args: changes,
        }
        return {"inventoryAdjustmentGroup": group, "userErrors": []}

    def webhook_subscription_create(
        self, info: GraphQLResolveInfo, topic: str, webhookSubscription: Entity
    ) -> Entity:
        uri = (webhookSubscription.get("uri") or "").strip()
        if not _acceptable_webhook_address(uri, self.settings.shopify_allow_http_loopback_webhooks):
            return {
                "webhookSubscription": None,
                "userErrors": [
                    {"field": ["webhookSubscription", "uri"], "message": "Address is invalid"}
                ],
            }
        existing = [
            s
            for s in self.shop.webhook_subscriptions.values()
            if s["topic"] == topic and s["uri"] == uri
        ]
        if existing:
            return {
                "webhookSubscription": None,
                "userErrors": [
                    {
                        "field": ["webhookSubscription", "uri"],
                        "message": "Address for this topic has already been taken",
                    }
                ],
            }
        number = self.shop.next_id()
        sub = {
            "id": gid("WebhookSubscription", number),
            "topic": topic,
            "uri": uri,
            "format": webhookSubscription.get("format") or "JSON",
            "createdAt": now_text(),
        }
        self.shop.webhook_subscriptions[number] = sub
        return {
            "webhookSubscription": {"__typename": "WebhookSubscription", **sub},
            "userErrors": [],
        }

    def webhook_subscription_delete(self, info: GraphQLResolveInfo, id: str) -> Entity:
        number = gid_number(id, "WebhookSubscription")
        if number is None or self.shop.webhook_subscriptions.pop(number, None) is None:
            return {
                "deletedWebhookSubscriptionId": None,
                "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
            }
        return {"deletedWebhookSubscriptionId": id, "userErrors": []}


def _user_errors(errors: list[tuple[str, list[str], str]]) -> Entity:
    return {
        "inventoryAdjustmentGroup": None,
        "userErrors": [{"code": c, "field": f, "message": m} for c, f, m in errors],
    }


def parse_document(text: str) -> DocumentNode:
    return parse(text)
