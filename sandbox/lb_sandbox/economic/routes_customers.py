"""/customers: list (filter, paging), get, create (POST) and replace (PUT, upserting)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .auth import current_agreement
from .errors import ALREADY_EXISTS, DOES_NOT_EXIST, Problems, not_found
from .jsonio import EconomicJSONResponse
from .paging import collection
from .paths import path_number
from .pipeline import EconomicRoute
from .state import Agreement, Entity, now_utc_text
from .validation import (
    currency_code,
    get_path,
    integer,
    read_object,
    reference,
    reject_nulls,
    require,
    string,
)

router = APIRouter(route_class=EconomicRoute)

FILTERABLE = [
    "address", "balance", "barred", "city", "corporateIdentificationNumber", "country",
    "creditLimit", "currency", "customerNumber", "ean", "email", "lastUpdated", "name",
    "publicEntryNumber", "telephoneAndFaxNumber", "mobilePhone", "vatNumber", "website", "zip",
    "pNumber", "customerGroup.customerGroupNumber",
]  # fmt: skip

_TEXT_FIELDS: dict[str, tuple[int, int]] = {
    "address": (0, 510), "zip": (0, 30), "city": (0, 50), "country": (0, 50),
    "email": (0, 255), "telephoneAndFaxNumber": (0, 255), "mobilePhone": (0, 50),
    "website": (0, 255), "corporateIdentificationNumber": (0, 40), "pNumber": (10, 10),
    "ean": (0, 13), "publicEntryNumber": (0, 50), "vatNumber": (0, 20),
}  # fmt: skip
MAX_CUSTOMER_NUMBER = 999_999_999


def _references(
    a: Agreement,
    body: dict[str, Any],
    problems: Problems,
    number: int | None,
    previous: Entity | None,
) -> Entity:
    """The writable references a bookkeeper sets by hand in e-conomic (schema
    customers.customerNo.put): attention and customerContact (contacts of this customer),
    salesPerson (an employee), priceGroup, defaultDeliveryLocation (one of the customer's
    delivery locations), and eInvoicingDisabledByDefault. POST takes only salesPerson,
    priceGroup and eInvoicingDisabledByDefault (customers.post); the others name things that
    exist only once the customer does. A PUT that leaves one out clears it, like any other
    field, except eInvoicingDisabledByDefault: "updatable only by using PATCH", so a PUT keeps
    it as it was."""
    kept: Entity = {}
    put = previous is not None or number is not None
    contacts = a.contacts.get(number or 0, {})
    for key in ("attention", "customerContact") if put else ():
        wanted = get_path(body, (key, "customerContactNumber"))
        if wanted is None:
            continue
        if not isinstance(wanted, int) or wanted not in contacts:
            problems.add(
                (key, "customerContactNumber"),
                DOES_NOT_EXIST,
                f"Contact {wanted} does not exist on customer {number}.",
                wanted,
            )
            continue
        kept[key] = {"customerContactNumber": wanted, "self": contacts[wanted]["self"]}
    employee = integer(body, problems, ("salesPerson", "employeeNumber"), minimum=1)
    if employee is not None:
        # The sandbox keeps no employees (GET /employees): any number is taken as one.
        kept["salesPerson"] = {
            "employeeNumber": employee,
            "self": a.link(f"/employees/{employee}"),
        }
    price_group = body.get("priceGroup")
    if isinstance(price_group, dict) and price_group:
        kept["priceGroup"] = {
            k: v for k, v in price_group.items() if k in ("priceGroupNumber", "self")
        }
    locations = a.delivery_locations.get(number or 0, {})
    location = (
        get_path(body, ("defaultDeliveryLocation", "deliveryLocationNumber")) if put else None
    )
    if location is not None:
        if not isinstance(location, int) or location not in locations:
            problems.add(
                ("defaultDeliveryLocation", "deliveryLocationNumber"),
                DOES_NOT_EXIST,
                f"Delivery location {location} does not exist on customer {number}.",
                location,
            )
        else:
            kept["defaultDeliveryLocation"] = {
                "deliveryLocationNumber": location,
                "self": locations[location]["self"],
            }
    if previous is not None:
        if previous.get("eInvoicingDisabledByDefault"):
            kept["eInvoicingDisabledByDefault"] = True
    elif body.get("eInvoicingDisabledByDefault") is True:
        kept["eInvoicingDisabledByDefault"] = True  # e-conomic sends only booleans that are true
    return kept


def _build(
    a: Agreement, body: dict[str, Any], number: int | None, previous: Entity | None = None
) -> Entity:
    """Validate a POST/PUT body and return the stored customer (read-only input is ignored).
    A PUT (`number` given; `previous`, the customer it replaces, if any) replaces the whole
    record: what the body leaves out is not kept."""
    problems = Problems()
    reject_nulls(body, problems)
    require(
        body,
        problems,
        ("currency",),
        ("customerGroup",),
        ("name",),
        ("paymentTerms",),
        ("vatZone",),
    )
    name = string(body, problems, ("name",), 255, min_length=1)
    currency = currency_code(body, problems, ("currency",), a.currencies)
    group = reference(body, problems, ("customerGroup",), "customerGroupNumber", a.customer_groups)
    terms = reference(body, problems, ("paymentTerms",), "paymentTermsNumber", a.payment_terms)
    zone = reference(body, problems, ("vatZone",), "vatZoneNumber", a.vat_zones)
    layout = reference(body, problems, ("layout",), "layoutNumber", a.layouts)
    if number is None:
        number = integer(body, problems, ("customerNumber",), minimum=1)
        if number is not None and number > MAX_CUSTOMER_NUMBER:
            problems.add(
                ("customerNumber",), ALREADY_EXISTS, "customerNumber is too large.", number
            )
        elif number is not None and number in a.customers:
            problems.add(
                ("customerNumber",), ALREADY_EXISTS, f"Customer {number} already exists.", number
            )
    texts = {
        k: string(body, problems, (k,), hi, min_length=lo) for k, (lo, hi) in _TEXT_FIELDS.items()
    }
    references = _references(a, body, problems, number, previous)
    problems.raise_if_any()
    assert name and currency and group and terms and zone  # guaranteed by require()
    if number is None:
        # e-conomic hands out the next number after the highest in use (so deleted top numbers recur).
        number = max(a.customers, default=0) + 1
    link = a.link(f"/customers/{number}")
    customer: Entity = {
        "customerNumber": number,
        "currency": currency,
        "paymentTerms": {"paymentTermsNumber": terms, "self": a.payment_terms[terms]["self"]},
        "customerGroup": {"customerGroupNumber": group, "self": a.customer_groups[group]["self"]},
        "balance": Decimal("0.00"),
        "dueAmount": Decimal("0.00"),
        "name": name,
        "vatZone": {"vatZoneNumber": zone, "self": a.vat_zones[zone]["self"]},
    }
    customer.update({k: v for k, v in texts.items() if v is not None})
    if layout is not None:
        customer["layout"] = {"layoutNumber": layout, "self": a.layouts[layout]["self"]}
    if body.get("barred") is True:
        customer["barred"] = True
    if isinstance(body.get("creditLimit"), int | Decimal):
        customer["creditLimit"] = Decimal(body["creditLimit"])
    customer.update(references)
    customer.update(
        {
            "lastUpdated": now_utc_text(),
            "contacts": f"{link}/contacts",
            "templates": {
                "invoice": f"{link}/templates/invoice",
                "invoiceLine": f"{link}/templates/invoiceline",
                "self": f"{link}/templates",
            },
            "totals": {"self": f"{link}/totals"},
            "deliveryLocations": f"{link}/delivery-locations",
            "invoices": {
                "drafts": f"{link}/invoices/drafts",
                "booked": f"{link}/invoices/booked",
                "self": f"{link}/invoices",
            },
            "metaData": {
                "delete": {"href": link, "httpMethod": "delete"},
                "replace": {"href": link, "httpMethod": "put"},
            },
            "self": link,
        }
    )
    return customer


@router.get("/customers")
async def list_customers(
    request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    items = [agreement.customers[n] for n in sorted(agreement.customers)]
    return EconomicJSONResponse(
        collection(request, agreement, "/customers", items, filterable=FILTERABLE)
    )


@router.get("/customers/{number}")
async def get_customer(number: str, agreement: Agreement = Depends(current_agreement)) -> Response:
    customer = agreement.customers.get(path_number(number) or 0)
    if customer is None:
        raise not_found()
    return EconomicJSONResponse(customer)


@router.post("/customers", status_code=201)
async def create_customer(
    request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    customer = _build(agreement, await read_object(request), None)
    agreement.customers[customer["customerNumber"]] = customer
    return EconomicJSONResponse(customer, status_code=201, headers={"Location": customer["self"]})


@router.put("/customers/{number}")
async def replace_customer(
    number: str, request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    customer_number = path_number(number)
    if customer_number is None or not 1 <= customer_number <= MAX_CUSTOMER_NUMBER:
        raise not_found()
    previous = agreement.customers.get(customer_number)
    existed = previous is not None
    # PUT is a full replace: whatever the body omits is gone afterwards (e-conomic/slate "HTTP
    # Verbs"; checked live in Pogoe/EConomic.NET docs/legacy-api-verification.md: "omitting
    # city and email cleared both").
    customer = _build(agreement, await read_object(request), customer_number, previous)
    agreement.customers[customer_number] = customer
    if existed:
        return EconomicJSONResponse(customer)
    # A PUT to an unknown number creates the customer (observed live).
    return EconomicJSONResponse(customer, status_code=201, headers={"Location": customer["self"]})


# --- delivery locations (/customers/{n}/delivery-locations) -------------------------------


def _customer_or_404(agreement: Agreement, number: str) -> Entity:
    customer = agreement.customers.get(path_number(number) or 0)
    if customer is None:
        raise not_found()
    return customer


@router.get("/customers/{number}/delivery-locations")
async def list_delivery_locations(
    number: str, request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    customer = _customer_or_404(agreement, number)
    items = agreement.delivery_locations.get(customer["customerNumber"], {})
    path = f"/customers/{customer['customerNumber']}/delivery-locations"
    return EconomicJSONResponse(collection(request, agreement, path, list(items.values())))


@router.post("/customers/{number}/delivery-locations", status_code=201)
async def create_delivery_location(
    number: str, request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    customer = _customer_or_404(agreement, number)
    body = await read_object(request)
    problems = Problems()
    reject_nulls(body, problems)
    fields = {
        "address": string(body, problems, ("address",), 255),
        "postalCode": string(body, problems, ("postalCode",), 15),
        "city": string(body, problems, ("city",), 50),
        "country": string(body, problems, ("country",), 50),
        "termsOfDelivery": string(body, problems, ("termsOfDelivery",), 100),
    }
    problems.raise_if_any()
    locations = agreement.delivery_locations.setdefault(customer["customerNumber"], {})
    location_number = max(locations, default=0) + 1
    link = agreement.link(
        f"/customers/{customer['customerNumber']}/delivery-locations/{location_number}"
    )
    location: Entity = {
        "deliveryLocationNumber": location_number,
        **{k: v for k, v in fields.items() if v is not None},
        "customer": {"customerNumber": customer["customerNumber"], "self": customer["self"]},
        "self": link,
    }
    locations[location_number] = location
    return EconomicJSONResponse(location, status_code=201, headers={"Location": link})


# --- contacts (/customers/{n}/contacts): the buyer's reference person ---------------------


@router.get("/customers/{number}/contacts")
async def list_contacts(
    number: str, request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    customer = _customer_or_404(agreement, number)
    items = agreement.contacts.get(customer["customerNumber"], {})
    path = f"/customers/{customer['customerNumber']}/contacts"
    return EconomicJSONResponse(collection(request, agreement, path, list(items.values())))


@router.post("/customers/{number}/contacts", status_code=201)
async def create_contact(
    number: str, request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    customer = _customer_or_404(agreement, number)
    body = await read_object(request)
    problems = Problems()
    reject_nulls(body, problems)
    require(body, problems, ("name",))
    fields = {
        "name": string(body, problems, ("name",), 255, min_length=1),
        "email": string(body, problems, ("email",), 255),
        "phone": string(body, problems, ("phone",), 50),
        "eInvoiceId": string(body, problems, ("eInvoiceId",), 50),
        "notes": string(body, problems, ("notes",), 2000),
    }
    problems.raise_if_any()
    contacts = agreement.contacts.setdefault(customer["customerNumber"], {})
    contact_number = max(contacts, default=0) + 1
    link = agreement.link(f"/customers/{customer['customerNumber']}/contacts/{contact_number}")
    contact: Entity = {
        "customerContactNumber": contact_number,
        **{k: v for k, v in fields.items() if v is not None},
        "customer": {"customerNumber": customer["customerNumber"], "self": customer["self"]},
        "self": link,
    }
    contacts[contact_number] = contact
    return EconomicJSONResponse(contact, status_code=201, headers={"Location": link})
