"""The Shopify Admin REST endpoints ledgerbridge uses, under /shopify/admin/api/{version}/.

Every call passes `ShopifyRoute`: the access token (401 without one), forced 429s, the leaky
bucket (429 with Retry-After when full), and the X-Shopify-Shop-Api-Call-Limit header.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from . import paging
from .errors import INVALID_TOKEN, THROTTLED, ShopifyHTTPError, not_found, unprocessable
from .state import Shop, ShopRegistry

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
TOKEN_HEADER = "X-Shopify-Access-Token"
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"
MAX_ITEM_IDS = 50


def registry_of(request: Request) -> ShopRegistry:
    registry: ShopRegistry = request.app.state.shops
    return registry


def shop_of(request: Request) -> Shop:
    return registry_of(request).get_or_create(request.headers[TOKEN_HEADER].strip())


def _throttled(shop: Shop, retry_after: float) -> Response:
    return ShopifyHTTPError(
        429, THROTTLED, {"Retry-After": f"{max(retry_after, 0.1):.1f}"}
    ).response()


class ShopifyRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        endpoint = super().get_route_handler()

        async def handler(request: Request) -> Response:
            if not request.headers.get(TOKEN_HEADER, "").strip():
                return ShopifyHTTPError(401, INVALID_TOKEN).response()
            shop = shop_of(request)
            if shop.throttle_times > 0:
                shop.throttle_times -= 1
                shop.bucket.fill()
                response = _throttled(shop, shop.throttle_retry_after)
            elif not shop.bucket.take():
                response = _throttled(shop, shop.bucket.retry_after())
            else:
                try:
                    response = await endpoint(request)
                except ShopifyHTTPError as exc:
                    response = exc.response()
            response.headers[CALL_LIMIT_HEADER] = shop.bucket.header()
            return response

        return handler


router = APIRouter(prefix="/admin/api/{version}", route_class=ShopifyRoute)


def _ids(raw: str | None, name: str) -> list[int]:
    if not raw:
        return []
    try:
        return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise ShopifyHTTPError(400, {name: ["must be a comma-separated list of ids"]}) from exc


def _paged(
    request: Request, key: str, items: list[Any], filters: dict[str, Any], offset: int
) -> Response:
    chunk, link = paging.page(request, items, filters, offset, paging.parse_limit(request))
    return JSONResponse({key: chunk}, headers={"Link": link} if link else None)


@router.get("/products.json")
async def list_products(version: str, request: Request) -> Response:
    shop = shop_of(request)
    filters, offset = paging.cursor_of(request, {})
    products = [shop.products[k] for k in sorted(shop.products)]
    return _paged(request, "products", products, filters, offset)


@router.get("/locations.json")
async def list_locations(version: str, request: Request) -> Response:
    """All the shop's locations, active or not (Shopify's GET locations.json is not paged)."""
    shop = shop_of(request)
    return JSONResponse({"locations": [shop.locations[k] for k in sorted(shop.locations)]})


@router.get("/locations/count.json")
async def count_locations(version: str, request: Request) -> Response:
    return JSONResponse({"count": len(shop_of(request).locations)})


@router.get("/locations/{location_id}.json")
async def get_location(version: str, location_id: str, request: Request) -> Response:
    shop = shop_of(request)
    location = shop.locations.get(int(location_id)) if location_id.isdigit() else None
    if location is None:
        raise not_found()
    return JSONResponse({"location": location})


@router.get("/inventory_levels.json")
async def list_levels(version: str, request: Request) -> Response:
    shop = shop_of(request)
    filters, offset = paging.cursor_of(
        request,
        {
            "inventory_item_ids": request.query_params.get("inventory_item_ids", ""),
            "location_ids": request.query_params.get("location_ids", ""),
        },
    )
    items = _ids(filters.get("inventory_item_ids"), "inventory_item_ids")
    locations = _ids(filters.get("location_ids"), "location_ids")
    if not items and not locations:
        raise unprocessable(
            {"base": ["Must specify at least one of inventory_item_ids or location_ids"]}
        )
    if len(items) > MAX_ITEM_IDS:
        raise unprocessable({"inventory_item_ids": [f"must have at most {MAX_ITEM_IDS} ids"]})
    wanted_items, wanted_locations = set(items), set(locations)
    levels = [
        level
        for (item, location), level in sorted(shop.levels.items())
        if (not wanted_items or item in wanted_items)
        and (not wanted_locations or location in wanted_locations)
    ]
    return _paged(request, "inventory_levels", levels, filters, offset)


@router.post("/inventory_levels/set.json")
async def set_level(version: str, request: Request) -> Response:
    shop = shop_of(request)
    try:
        body = await request.json()
    except ValueError as exc:
        raise ShopifyHTTPError(400, "Bad Request") from exc
    missing = [k for k in ("location_id", "inventory_item_id", "available") if body.get(k) is None]
    if missing:
        raise unprocessable({k: ["Required parameter missing or invalid"] for k in missing})
    try:
        location_id, item_id = int(body["location_id"]), int(body["inventory_item_id"])
        available = body["available"]
        if isinstance(available, bool) or not isinstance(available, int):
            raise ValueError
    except (TypeError, ValueError) as exc:
        raise unprocessable({"available": ["must be an integer"]}) from exc
    if location_id not in shop.locations:
        raise not_found()
    if not shop.item_exists(item_id):
        raise unprocessable(["Inventory item does not exist"])
    level = shop.set_level(item_id, location_id, available)
    return JSONResponse({"inventory_level": level})


def _parse_time(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ShopifyHTTPError(400, {name: ["must be an ISO 8601 time"]}) from exc
    if parsed.tzinfo is None:
        raise ShopifyHTTPError(400, {name: ["must carry a UTC offset"]})
    return parsed


@router.get("/orders.json")
async def list_orders(version: str, request: Request) -> Response:
    shop = shop_of(request)
    filters, offset = paging.cursor_of(
        request,
        {
            "updated_at_min": request.query_params.get("updated_at_min"),
            "status": request.query_params.get("status", "open"),
        },
    )
    status = filters.get("status") or "open"
    if status not in ("open", "closed", "cancelled", "any"):
        raise ShopifyHTTPError(400, {"status": ["is not included in the list"]})
    since = filters.get("updated_at_min")
    floor = _parse_time(since, "updated_at_min") if since else None
    orders = []
    for key in sorted(shop.orders):
        order = shop.orders[key]
        if floor is not None and _parse_time(order.get("updated_at") or "", "updated_at") < floor:
            continue
        if status == "cancelled" and not order.get("cancelled_at"):
            continue
        if status == "closed" and not order.get("closed_at"):
            continue
        if status == "open" and (order.get("closed_at") or order.get("cancelled_at")):
            continue
        orders.append(order)
    return _paged(request, "orders", orders, filters, offset)
