"""Inspection endpoints for tests and the demo, outside the emulated API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .economic.errors import not_found
from .economic.faults import FaultRegistry, FaultSpec
from .economic.jsonio import EconomicJSONResponse
from .economic.state import AgreementRegistry

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


@router.post("/_sandbox/reset")
async def reset(request: Request, agreement: str | None = None) -> Response:
    """Forget one agreement (`?agreement=<grant token>`) or all; they are re-seeded on next use."""
    removed = _registry(request).reset(agreement)
    if agreement is None:
        _faults(request).clear()
    return EconomicJSONResponse({"reset": removed})


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
