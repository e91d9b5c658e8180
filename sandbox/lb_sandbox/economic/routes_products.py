"""/products: list, get (string ids with e-conomic's `_<n>_` escapes), create."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .auth import current_agreement
from .errors import ALREADY_EXISTS, Problems, not_found
from .jsonio import EconomicJSONResponse
from .paging import collection
from .paths import decode_id
from .pipeline import EconomicRoute
from .reference_data import product_entity
from .state import Agreement
from .validation import number, read_object, reference, reject_nulls, require, string

router = APIRouter(route_class=EconomicRoute)

# inventory.* is documented as filterable but refused by the live API, so it is refused here too.
FILTERABLE = [
    "productNumber", "description", "name", "costPrice", "recommendedPrice", "salesPrice",
    "barCode", "barred", "lastUpdated", "unit.unitNumber", "productGroup.productGroupNumber",
    "departmentalDistribution.departmentalDistributionNumber",
]  # fmt: skip


@router.get("/products")
async def list_products(
    request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    items = [agreement.products[k] for k in sorted(agreement.products)]
    return EconomicJSONResponse(
        collection(request, agreement, "/products", items, filterable=FILTERABLE)
    )


@router.get("/products/{product_id:path}")
async def get_product(
    product_id: str, agreement: Agreement = Depends(current_agreement)
) -> Response:
    product = agreement.products.get(decode_id(product_id))
    if product is None:
        raise not_found()
    return EconomicJSONResponse(product)


@router.post("/products", status_code=201)
async def create_product(
    request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    body = await read_object(request)
    problems = Problems()
    reject_nulls(body, problems)
    require(body, problems, ("productNumber",), ("name",), ("productGroup",))
    product_number = string(body, problems, ("productNumber",), 25, min_length=1)
    name = string(body, problems, ("name",), 300, min_length=1)
    group = reference(
        body, problems, ("productGroup",), "productGroupNumber", agreement.product_groups
    )
    price = number(body, problems, ("salesPrice",))
    if product_number is not None and product_number in agreement.products:
        problems.add(
            ("productNumber",), ALREADY_EXISTS, f"Product {product_number} already exists.",
            product_number,
        )  # fmt: skip
    problems.raise_if_any()
    assert product_number and name and group
    product = product_entity(
        agreement,
        product_number,
        name,
        price if price is not None else Decimal("0.00"),
        group=group,
    )
    for key in ("description", "barCode"):
        if isinstance(body.get(key), str):
            product[key] = body[key]
    if body.get("barred") is True:
        product["barred"] = True
    agreement.products[product_number] = product
    return EconomicJSONResponse(product, status_code=201, headers={"Location": product["self"]})
