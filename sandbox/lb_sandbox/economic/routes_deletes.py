"""DELETE of customers, their contacts and products: what the live contract suite
(tests/connectors/test_economic_contract.py) cleans up with, so it runs the same against the
sandbox and a real agreement.

Sources: DELETE /customers/{n} answers 204 (EConomic.NET legacy-api-verification); contacts are
CRUD (SLATE `_customers.md`); DELETE /products/{n} answers 204 and "fails while the product is
in use" (SLATE `_products.md`); a booked invoice cannot be deleted, "and neither can the
customer or product it references" (SLATE; verification). The refusal's body for a customer or
product in use is not documented: the sandbox answers 400 in e-conomic's error shape.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from .auth import current_agreement
from .errors import EconomicHTTPError, not_found
from .paths import decode_id, path_number
from .pipeline import EconomicRoute
from .state import Agreement

router = APIRouter(route_class=EconomicRoute)


def _in_use(what: str) -> EconomicHTTPError:
    return EconomicHTTPError(
        400,
        f"{what} is used on an invoice and cannot be deleted.",
        "Booked invoices keep the customers and products they reference; bar them instead.",
    )


@router.delete("/customers/{number}", status_code=204)
async def delete_customer(
    number: str, agreement: Agreement = Depends(current_agreement)
) -> Response:
    key = path_number(number) or 0
    if key not in agreement.customers:
        raise not_found()
    documents = [*agreement.booked.values(), *agreement.drafts.values()]
    if any(d["customer"]["customerNumber"] == key for d in documents):
        raise _in_use(f"Customer {key}")
    del agreement.customers[key]
    agreement.contacts.pop(key, None)
    agreement.delivery_locations.pop(key, None)
    return Response(status_code=204)


@router.delete("/customers/{number}/contacts/{contact}", status_code=204)
async def delete_contact(
    number: str, contact: str, agreement: Agreement = Depends(current_agreement)
) -> Response:
    contacts = agreement.contacts.get(path_number(number) or 0, {})
    if contacts.pop(path_number(contact) or 0, None) is None:
        raise not_found()
    return Response(status_code=204)


@router.delete("/products/{product_id:path}", status_code=204)
async def delete_product(
    product_id: str, agreement: Agreement = Depends(current_agreement)
) -> Response:
    number = decode_id(product_id)
    if number not in agreement.products:
        raise not_found()
    documents = [*agreement.booked.values(), *agreement.drafts.values()]
    if any(line["product"]["productNumber"] == number for d in documents for line in d["lines"]):
        raise _in_use(f"Product {number}")
    del agreement.products[number]
    return Response(status_code=204)
