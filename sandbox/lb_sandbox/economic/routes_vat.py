"""VAT and agreement reference data: /vat-accounts, /product-groups/{n}/sales-accounts, /self.

Shapes: schemas vat-accounts.get, vat-accounts.id.get,
product-groups.productGroupNumber.sales-accounts.get, self.get, self.company.put (e-conomic's
JSON schemas, ../shared/reference/economic-schemas). How they make a line's VAT: vat.py.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .auth import current_agreement
from .errors import Problems, not_found
from .jsonio import EconomicJSONResponse
from .paging import collection
from .paths import path_number
from .pipeline import EconomicRoute
from .state import Agreement
from .validation import read_object, reject_nulls, require, string
from .vat import ensure_vat_model, sales_accounts_view

router = APIRouter(route_class=EconomicRoute)


VAT_ACCOUNT_FILTERABLE = ("vatCode", "name", "barred")


@router.get("/vat-accounts")
async def list_vat_accounts(
    request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    ensure_vat_model(agreement)
    items = [agreement.vat_accounts[code] for code in sorted(agreement.vat_accounts)]
    return EconomicJSONResponse(
        collection(request, agreement, "/vat-accounts", items, filterable=VAT_ACCOUNT_FILTERABLE)
    )


@router.get("/vat-accounts/{code}")
async def get_vat_account(code: str, agreement: Agreement = Depends(current_agreement)) -> Response:
    ensure_vat_model(agreement)
    item = agreement.vat_accounts.get(code.upper())
    if item is None:
        raise not_found()
    return EconomicJSONResponse(item)


@router.get("/product-groups/{group}/sales-accounts")
async def list_sales_accounts(
    group: str, request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    number = path_number(group)
    if number is None or number not in agreement.product_groups:
        raise not_found()
    return EconomicJSONResponse(
        collection(
            request,
            agreement,
            f"/product-groups/{number}/sales-accounts",
            sales_accounts_view(agreement, number),
            filterable=[],
        )
    )


@router.get("/self")
async def get_self(agreement: Agreement = Depends(current_agreement)) -> Response:
    company = {"name": "ledgerbridge sandbox", **agreement.company}
    return EconomicJSONResponse(
        {
            "agreementNumber": 1,
            "agreementType": {"agreementTypeNumber": 1, "name": "denmark"},
            "company": company,
            "settings": {"baseCurrency": "DKK"},
            "companyAffiliation": "Developer",
            # True only with a CVR, as e-invoices need one (einvoice.py).
            **(
                {"canSendElectronicInvoice": True}
                if company.get("companyIdentificationNumber")
                else {}
            ),
            "self": agreement.link("/self"),
        }
    )


_COMPANY_TEXT = (
    "addressLine1", "addressLine2", "zip", "city", "name", "country", "phoneNumber",
    "attention", "website", "email", "companyIdentificationNumber", "vatNumber",
)  # fmt: skip


@router.put("/self/company")
async def replace_company(
    request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    """A full replace, like every PUT (a left-out companyIdentificationNumber is cleared)."""
    body = await read_object(request)
    problems = Problems()
    reject_nulls(body, problems)
    require(
        body, problems, ("addressLine1",), ("zip",), ("city",), ("name",), ("phoneNumber",),
        ("attention",), ("email",),
    )  # fmt: skip
    values = {key: string(body, problems, (key,), 255) for key in _COMPANY_TEXT}
    problems.raise_if_any()
    agreement.company = {k: v for k, v in values.items() if v}
    return EconomicJSONResponse({**agreement.company, "self": agreement.link("/self/company")})
