"""Sandbox-only endpoints for tests and the demo: seed a shop, read its levels, put orders in it,
change a level as the merchant would (or a sale does), and ask for faults."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from .graphql_api import registry_of
from .state import now_text

router = APIRouter(prefix="/_sandbox/shopify/{token}")


class VariantSeed(BaseModel):
    sku: str | None = None
    title: str = "Default Title"
    available: int | None = None
    price: str = "0.00"


class ProductSeed(BaseModel):
    title: str
    variants: list[VariantSeed] = Field(min_length=1)


class LevelChange(BaseModel):
    inventory_item_id: int
    available: int
    location_id: int | None = None  # default: the shop's first location


class Fault(BaseModel):
    # throttled: the GraphQL bucket is emptied (THROTTLED, HTTP 200); unavailable: HTTP 503;
    # internal_error: an INTERNAL_SERVER_ERROR error; bulk_failed: the next bulk operation FAILED.
    kind: Literal["throttled", "unavailable", "internal_error", "bulk_failed"]
    times: int = Field(default=1, ge=1)


@router.get("/state")
async def state(token: str, request: Request) -> Response:
    return JSONResponse(registry_of(request).get_or_create(token).snapshot())


@router.post("/products", status_code=201)
async def seed_products(token: str, body: list[ProductSeed], request: Request) -> Response:
    shop = registry_of(request).get_or_create(token)
    made = [shop.add_product(p.title, [v.model_dump() for v in p.variants]) for p in body]
    return JSONResponse({"products": made}, status_code=201)


@router.get("/levels")
async def levels(token: str, request: Request) -> Response:
    shop = registry_of(request).get_or_create(token)
    return JSONResponse({"inventory_levels": list(shop.levels.values())})


@router.post("/levels")
async def change_level(token: str, body: LevelChange, request: Request) -> Response:
    shop = registry_of(request).get_or_create(token)
    location = body.location_id if body.location_id is not None else next(iter(shop.locations))
    return JSONResponse(
        {"inventory_level": shop.set_level(body.inventory_item_id, location, body.available)}
    )


@router.post("/orders", status_code=201)
async def put_order(token: str, body: dict[str, Any], request: Request) -> Response:
    """Store a Shopify order body as the shop's order (same id: replaced)."""
    shop = registry_of(request).get_or_create(token)
    order = dict(body)
    order.setdefault("id", shop.next_id())
    order.setdefault("updated_at", now_text())
    order.setdefault("created_at", order["updated_at"])
    shop.orders[int(order["id"])] = order
    return JSONResponse({"order": order}, status_code=201)


@router.get("/points")
async def points(token: str, request: Request) -> Response:
    """The shop's GraphQL points bucket: its level, and the THROTTLED answers and points spent
    so far (benches check several processes stayed within it)."""
    return JSONResponse(registry_of(request).get_or_create(token).points.meter())


@router.post("/faults")
async def fault(token: str, body: Fault, request: Request) -> Response:
    """The next `times` GraphQL Admin API calls (or bulk operations) of this shop meet `kind`."""
    shop = registry_of(request).get_or_create(token)
    shop.faults[body.kind] = shop.faults.get(body.kind, 0) + body.times
    return JSONResponse(body.model_dump())


@router.post("/reset")
async def reset(token: str, request: Request) -> Response:
    return JSONResponse({"reset": registry_of(request).reset(token)})
