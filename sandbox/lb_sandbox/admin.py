"""Inspection endpoints for tests and the demo, outside the emulated API."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from .economic.auth import str_base
from .economic.errors import not_found
from .economic.faults import FaultRegistry, FaultSpec
from .economic.grants import App
from .economic.jsonio import EconomicJSONResponse
from .economic.reference_data import SERVICE_GROUP, product_entity
from .economic.routes_customers import _build as build_customer
from .economic.state import AgreementRegistry, now_utc_text

router = APIRouter()


def _registry(request: Request) -> AgreementRegistry:
    registry: AgreementRegistry = request.app.state.registry
    return registry


@router.get("/healthz")
async def healthz() -> Response:
    return EconomicJSONResponse({"status": "ok"})


@router.get("/_sandbox/agreements/{grant_token}/state")
async def agreement_state(grant_token: str, request: Request) -> Response:
    agreement = _registry(request).find(grant_token)
    if agreement is None:
        raise not_found()
    return EconomicJSONResponse(agreement.snapshot())


@router.get("/_sandbox/agreements/{grant_token}/calls")
async def agreement_calls(grant_token: str, request: Request) -> Response:
    """Calls this agreement answered so far, by method and path template (e.g.
    `GET /products/{product_id:path}`), refusals by faults or the rate limit included."""
    agreement = _registry(request).find(grant_token)
    if agreement is None:
        raise not_found()
    return EconomicJSONResponse(
        {"total": sum(agreement.calls.values()), "calls": dict(sorted(agreement.calls.items()))}
    )


@router.delete("/_sandbox/agreements/{grant_token}/calls")
async def reset_calls(grant_token: str, request: Request) -> Response:
    """Start counting this agreement's calls from zero (its data stays)."""
    agreement = _registry(request).find(grant_token)
    if agreement is None:
        raise not_found()
    cleared = sum(agreement.calls.values())
    agreement.calls.clear()
    return EconomicJSONResponse({"cleared": cleared})


@router.post("/_sandbox/reset")
async def reset(request: Request, agreement: str | None = None) -> Response:
    """Forget one agreement (`?agreement=<grant token>`) or all; they are re-seeded on next use."""
    removed = _registry(request).reset(agreement)
    if agreement is None:
        _faults(request).clear()
    _faults(request).forget_calls(agreement)
    return EconomicJSONResponse({"reset": removed})


class AppRegistration(BaseModel):
    public_token: str = Field(min_length=1)
    secret_token: str = Field(min_length=1)
    name: str = "ledgerbridge"


@router.post("/_sandbox/economic/apps", status_code=201)
async def register_app(body: AppRegistration, request: Request) -> Response:
    """An e-conomic app the grant flow knows (its installation URL carries the public token)."""
    request.app.state.economic_apps[body.public_token] = App(
        body.public_token, body.secret_token, body.name
    )
    return EconomicJSONResponse({"public_token": body.public_token, "name": body.name}, 201)


def _faults(request: Request) -> FaultRegistry:
    faults: FaultRegistry = request.app.state.faults
    return faults


@router.post("/_sandbox/faults", status_code=201)
async def add_fault(spec: FaultSpec, request: Request) -> Response:
    """e.g. {"kind": "lost_reply", "path": "/invoices/drafts", "method": "POST", "times": 1}."""
    fault = _faults(request).add(spec)
    return EconomicJSONResponse(fault.model_dump(mode="json", by_alias=True), status_code=201)


@router.get("/_sandbox/faults")
async def list_faults(request: Request) -> Response:
    faults = _faults(request).all()
    return EconomicJSONResponse([f.model_dump(mode="json", by_alias=True) for f in faults])


@router.delete("/_sandbox/faults")
async def clear_faults(request: Request) -> Response:
    return EconomicJSONResponse({"cleared": _faults(request).clear()})


@router.get("/_sandbox/calls")
async def call_counts(request: Request) -> Response:
    """Calls to /economic per agreement since start (or the last reset), refused ones too."""
    return EconomicJSONResponse({"calls": dict(_faults(request).calls)})


# Quantities and prices a ledger can hold: numbers (no NaN or infinity, which no JSON body of
# e-conomic's carries), at most a trillion, to the hundredth.
Quantity = Annotated[Decimal, Field(allow_inf_nan=False, ge=-(10**12), le=10**12, decimal_places=2)]


class GoodsReceipt(BaseModel):
    quantity: Quantity


class ProductSeed(BaseModel):
    number: str = Field(min_length=1, max_length=25)
    name: str
    price: Quantity = Decimal("0.00")
    stock: Quantity | None = Decimal("0")


@router.post("/_sandbox/agreements/{grant_token}/products/{number}/receive")
async def receive_goods(
    grant_token: str, number: str, body: GoodsReceipt, request: Request
) -> Response:
    """A goods receipt (or, with a negative quantity, a stock correction) on a stocked product."""
    agreement = _registry(request).find(grant_token)
    product = agreement.products.get(number) if agreement is not None else None
    if product is None or "inventory" not in product:
        raise not_found()
    stamp = now_utc_text()
    inventory = product["inventory"]
    inventory["inStock"] += body.quantity
    inventory["available"] += body.quantity
    inventory["inventoryLastUpdated"] = stamp
    product["lastUpdated"] = stamp
    return EconomicJSONResponse(product)


@router.post("/_sandbox/agreements/{grant_token}/products", status_code=201)
async def seed_products(grant_token: str, body: list[ProductSeed], request: Request) -> Response:
    """Bulk-create products (stocked unless `stock` is null), e.g. 10,000 for a benchmark."""
    agreement = _registry(request).get_or_create(grant_token, str_base(request))
    for seed in body:
        group = 1 if seed.stock is not None else SERVICE_GROUP  # the group without inventory
        agreement.products[seed.number] = product_entity(
            agreement, seed.number, seed.name, seed.price, group=group, in_stock=seed.stock
        )
    return EconomicJSONResponse({"created": len(body)}, status_code=201)


@router.post("/_sandbox/agreements/{grant_token}/customers", status_code=201)
async def seed_customers(
    grant_token: str, body: list[dict[str, Any]], request: Request
) -> Response:
    """Bulk-create customers from e-conomic customer bodies (camelCase), e.g. 2,500 for an
    import test. Left out: currency DKK, customer group 1, payment terms 1, VAT zone 1; a
    `customerNumber` is kept, otherwise the next free number is used. Validated like POST."""
    agreement = _registry(request).get_or_create(grant_token, str_base(request))
    defaults: dict[str, Any] = {
        "currency": "DKK",
        "customerGroup": {"customerGroupNumber": 1},
        "paymentTerms": {"paymentTermsNumber": 1},
        "vatZone": {"vatZoneNumber": 1},
    }
    for seed in body:
        customer = build_customer(agreement, {**defaults, **seed}, None)
        agreement.customers[customer["customerNumber"]] = customer
    return EconomicJSONResponse({"created": len(body)}, status_code=201)
