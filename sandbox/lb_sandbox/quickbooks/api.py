"""The Accounting API v3 routes: `/v3/company/{realmId}/{entity}` (POST creates, or updates
when the body has an Id), `GET .../{entity}/{id}`, and `GET|POST .../query`."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from . import entities, query
from .faults import not_found, qbo_time, validation
from .pipeline import entity_reply, run
from .state import Company

router = APIRouter()

ENTITIES = {
    "customer": "Customer",
    "item": "Item",
    "invoice": "Invoice",
    "payment": "Payment",
    "creditmemo": "CreditMemo",
    "refundreceipt": "RefundReceipt",
    "account": "Account",
    "taxcode": "TaxCode",
}
READ_ONLY = {"Account", "TaxCode"}


def _entity(name: str) -> str:
    entity = ENTITIES.get(name.lower())
    if entity is None:
        raise validation("4001", "Invalid query", f"Unsupported entity path /{name}")
    return entity


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw, parse_float=Decimal) if raw else None
    except ValueError:
        return None


@router.get("/v3/company/{realm_id}/query")
@router.post("/v3/company/{realm_id}/query")
async def run_query(realm_id: str, request: Request) -> Response:
    async def handler(company: Company) -> tuple[int, Any]:
        text = request.query_params.get("query")
        if text is None and request.method == "POST":
            text = (await request.body()).decode()
        if not text:
            raise validation("4000", "Error parsing query", "QueryParserError: empty query")
        parsed = query.parse(text)
        rows = list(company.table(parsed.entity).values())
        return 200, {"QueryResponse": query.run(parsed, rows), "time": qbo_time()}

    return await run(request, realm_id, "/query", handler)


@router.get("/v3/company/{realm_id}/{entity_path}/{ident}")
async def read(realm_id: str, entity_path: str, ident: str, request: Request) -> Response:
    async def handler(company: Company) -> tuple[int, Any]:
        entity = _entity(entity_path)
        row = company.table(entity).get(ident)
        if row is None:
            raise not_found(entity, ident)
        return entity_reply(entity, row)

    return await run(request, realm_id, f"/{entity_path}/*", handler)


@router.post("/v3/company/{realm_id}/{entity_path}")
async def write(realm_id: str, entity_path: str, request: Request) -> Response:
    body = await _body(request)

    async def handler(company: Company) -> tuple[int, Any]:
        entity = _entity(entity_path)
        if entity in READ_ONLY:
            raise validation("4001", "Invalid query", f"{entity} cannot be written here")
        data = entities.refuse_unknown_body(copy.deepcopy(body), entity)
        row = entities.create(company, entity, data)
        return entity_reply(entity, row)

    return await run(request, realm_id, f"/{entity_path}", handler)
