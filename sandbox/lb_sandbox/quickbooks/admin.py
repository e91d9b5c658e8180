"""Sandbox-only endpoints for the QuickBooks emulation, under /_sandbox/quickbooks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from ..economic.faults import FaultSpec
from ..economic.jsonio import EconomicJSONResponse
from . import entities
from .faults import QuickBooksFault, not_found, validation
from .pipeline import faults, world
from .state import Company

router = APIRouter(prefix="/_sandbox/quickbooks")


class NewCompany(BaseModel):
    name: str = "Sandbox Company"
    home_currency: str = "USD"
    multicurrency: bool = False


def _company(request: Request, realm_id: str) -> Company:
    company = world(request).company(realm_id)
    if company is None:
        raise not_found("Company", realm_id)
    return company


@router.post("/companies", status_code=201)
async def new_company(body: NewCompany, request: Request) -> Response:
    company = world(request).new_company(body.name)
    company.home_currency, company.multicurrency = body.home_currency, body.multicurrency
    return EconomicJSONResponse({"realmId": company.realm_id}, status_code=201)


@router.get("/companies/{realm_id}/state")
async def company_state(realm_id: str, request: Request) -> Response:
    try:
        return EconomicJSONResponse(_company(request, realm_id).snapshot())
    except QuickBooksFault as fault:
        return fault.response()


@router.get("/companies/{realm_id}/calls")
async def company_calls(realm_id: str, request: Request) -> Response:
    """Calls the company answered (refused ones included), by method and path."""
    try:
        calls = _company(request, realm_id).calls
    except QuickBooksFault as fault:
        return fault.response()
    return EconomicJSONResponse(
        {"total": sum(calls.values()), "calls": dict(sorted(calls.items()))}
    )


@router.post("/companies/{realm_id}/expire-access-tokens")
async def expire_access_tokens(realm_id: str, request: Request) -> Response:
    """Every access token of the company expires now, as if an hour had passed."""
    return EconomicJSONResponse({"expired": world(request).expire_access_tokens(realm_id)})


@router.post("/companies/{realm_id}/{entity}", status_code=201)
async def seed(
    realm_id: str, entity: str, body: list[dict[str, Any]], request: Request
) -> Response:
    """Bulk-create entities (e.g. Item, Customer, Vendor) with QuickBooks' own checks."""
    try:
        company = _company(request, realm_id)
        created = [entities.create(company, entity, row)["Id"] for row in body]
    except QuickBooksFault as fault:
        return fault.response()
    except (AttributeError, TypeError, KeyError, ValueError):
        return validation(
            "2010", "Request has invalid or unsupported property", "a row has the wrong shape"
        ).response()
    return EconomicJSONResponse({"created": created}, status_code=201)


@router.post("/faults", status_code=201)
async def add_fault(spec: FaultSpec, request: Request) -> Response:
    """As /_sandbox/faults, for QuickBooks: `path` relative to /v3/company/{realmId} (e.g.
    `/invoice`, `/query`, or `/oauth2/v1/tokens/bearer`), `agreement` a realm id."""
    fault = faults(request).add(spec)
    return EconomicJSONResponse(fault.model_dump(mode="json", by_alias=True), status_code=201)


@router.delete("/faults")
async def clear_faults(request: Request) -> Response:
    return EconomicJSONResponse({"cleared": faults(request).clear()})
