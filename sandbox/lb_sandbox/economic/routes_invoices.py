"""/invoices/drafts and /invoices/booked."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .auth import current_agreement
from .errors import not_found
from .invoicing import book, booked_list_view, build_draft, draft_list_view
from .jsonio import EconomicJSONResponse
from .paging import collection
from .paths import path_number
from .pipeline import EconomicRoute
from .state import Agreement
from .validation import read_object

router = APIRouter(route_class=EconomicRoute)

_COMMON_FILTERABLE = [
    "date", "currency", "exchangeRate", "paymentTerms.paymentTermsNumber", "customer.customerNumber",
    "recipient.name", "recipient.address", "recipient.zip", "recipient.city", "recipient.country",
    "recipient.ean", "recipient.publicEntryNumber", "deliveryLocation.deliveryLocationNumber",
    "delivery.address", "delivery.zip", "delivery.city", "delivery.country", "delivery.deliveryTerms",
    "delivery.deliveryDate", "notes.heading", "notes.textLine1", "notes.textLine2",
    "references.salesPerson.employeeNumber", "references.vendorReference.employeeNumber",
    "references.other",
]  # fmt: skip
DRAFT_FILTERABLE = ["draftInvoiceNumber", *_COMMON_FILTERABLE, "lastUpdated"]
BOOKED_FILTERABLE = ["bookedInvoiceNumber", *_COMMON_FILTERABLE, "recipient.vatZone.vatZoneNumber"]


@router.get("/invoices/drafts")
async def list_drafts(
    request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    items = [agreement.drafts[n] for n in sorted(agreement.drafts)]
    return EconomicJSONResponse(collection(
        request, agreement, "/invoices/drafts", items,
        filterable=DRAFT_FILTERABLE, view=draft_list_view,
    ))  # fmt: skip


@router.post("/invoices/drafts", status_code=201)
async def create_draft(
    request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    draft = build_draft(agreement, await read_object(request))
    agreement.drafts[draft["draftInvoiceNumber"]] = draft
    return EconomicJSONResponse(draft, status_code=201, headers={"Location": draft["self"]})


@router.get("/invoices/drafts/{number}")
async def get_draft(number: str, agreement: Agreement = Depends(current_agreement)) -> Response:
    draft = agreement.drafts.get(path_number(number) or 0)
    if draft is None:
        raise not_found()
    return EconomicJSONResponse(draft)


@router.delete("/invoices/drafts/{number}")
async def delete_draft(number: str, agreement: Agreement = Depends(current_agreement)) -> Response:
    draft = agreement.drafts.pop(path_number(number) or 0, None)
    if draft is None:
        raise not_found()
    # A single-draft DELETE answers 200 (not 204), as observed live.
    return EconomicJSONResponse(
        {
            "message": "Deleted 1 invoice.",
            "deletedCount": 1,
            "deletedItems": [
                {"draftInvoiceNumber": draft["draftInvoiceNumber"], "self": draft["self"]}
            ],
        }
    )


@router.get("/invoices/booked")
async def list_booked(
    request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    items = [agreement.booked[n] for n in sorted(agreement.booked)]
    return EconomicJSONResponse(collection(
        request, agreement, "/invoices/booked", items,
        filterable=BOOKED_FILTERABLE, view=booked_list_view,
    ))  # fmt: skip


@router.post("/invoices/booked", status_code=201)
async def book_draft(
    request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    booked = book(agreement, await read_object(request))
    return EconomicJSONResponse(booked, status_code=201, headers={"Location": booked["self"]})


@router.get("/invoices/sent")
async def list_sent(
    request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    return EconomicJSONResponse(collection(request, agreement, "/invoices/sent", agreement.sent))


@router.get("/invoices/booked/{number}")
async def get_booked(number: str, agreement: Agreement = Depends(current_agreement)) -> Response:
    booked = agreement.booked.get(path_number(number) or 0)
    if booked is None:
        raise not_found()
    return EconomicJSONResponse(booked)
