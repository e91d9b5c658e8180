"""Read-only reference data: customer groups, payment terms, VAT zones, layouts, currencies..."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .auth import current_agreement
from .errors import not_found
from .jsonio import EconomicJSONResponse
from .paging import collection
from .paths import path_number
from .pipeline import EconomicRoute
from .state import Agreement, Entity

router = APIRouter(route_class=EconomicRoute)

Store = Callable[[Agreement], dict[Any, Entity]]

_RESOURCES: list[tuple[str, Store, list[str], type]] = [
    ("/customer-groups", lambda a: a.customer_groups, ["customerGroupNumber", "name"], int),
    (
        "/payment-terms",
        lambda a: a.payment_terms,
        ["paymentTermsNumber", "name", "daysOfCredit", "paymentTermsType"],
        int,
    ),
    ("/vat-zones", lambda a: a.vat_zones, ["vatZoneNumber", "name"], int),
    ("/layouts", lambda a: a.layouts, ["layoutNumber", "name"], int),
    ("/currencies", lambda a: a.currencies, ["code", "name", "isoNumber"], str),
    ("/product-groups", lambda a: a.product_groups, ["productGroupNumber", "name"], int),
    ("/accounts", lambda a: a.accounts, ["accountNumber", "name", "accountType"], int),
    ("/journals", lambda a: a.journals, ["journalNumber", "name"], int),
]


def _register(path: str, store: Store, filterable: list[str], key_type: type) -> None:
    async def list_items(
        request: Request, agreement: Agreement = Depends(current_agreement)
    ) -> Response:
        items = sorted(store(agreement).values(), key=lambda e: str(e.get("self")))
        return EconomicJSONResponse(
            collection(request, agreement, path, items, filterable=filterable)
        )

    async def get_item(key: str, agreement: Agreement = Depends(current_agreement)) -> Response:
        lookup: Any = key.upper() if key_type is str else path_number(key)
        item = store(agreement).get(lookup)
        if item is None:
            raise not_found()
        return EconomicJSONResponse(item)

    name = path.strip("/").replace("-", "_")
    router.add_api_route(path, list_items, methods=["GET"], name=f"list_{name}")
    router.add_api_route(f"{path}/{{key}}", get_item, methods=["GET"], name=f"get_{name}")


for _path, _store, _filterable, _key_type in _RESOURCES:
    _register(_path, _store, _filterable, _key_type)
