"""What the e-conomic emulation reads besides its path parameters, stated in the sandbox's
OpenAPI: the collections' query parameters (`skippages`, `pagesize`, `filter`, `sort`), the
`demo` switch, the JSON bodies of the writes, and links from lists to their items, with e-conomic's documented bounds and types
(restdocs.e-conomic.com: "Pagination", "Filtering", "Sorting", and the POST schemas).

The endpoints read these from the request themselves (e-conomic answers bad input with its own
400 body, not FastAPI's 422), so FastAPI cannot see them; without this, clients and `make
fuzz-api` would not know they exist. Shopify's GraphQL body is stated here too. Kept apart from the routes: `add_to(schema)` fills them in
when the app builds its OpenAPI, and tests/sandbox/test_sandbox_openapi.py holds every list
route and every write to a declaration here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import (
    accounting_years,
    journal_entries,
    routes_customers,
    routes_invoices,
    routes_products,
    routes_reference,
    routes_vat,
)
from .paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

PREFIX = "/economic"
Schema = dict[str, Any]

DEMO: Schema = {
    "name": "demo",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["true", "false"]},
    "description": "`demo=true` reads the demo agreement without tokens (GET only).",
}


def collection_parameters(filterable: Sequence[str]) -> list[Schema]:
    fields = ", ".join(filterable) if filterable else "none"
    return [
        {
            "name": "skippages",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "default": 0},
            "description": "Pages to skip, zero-based.",
        },
        {
            "name": "pagesize",
            "in": "query",
            "required": False,
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PAGE_SIZE,
                "default": DEFAULT_PAGE_SIZE,
            },
            "description": f"Items per page, 1 to {MAX_PAGE_SIZE}.",
        },
        {
            "name": "filter",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "`<property>$<op>:<value>`, ops $eq $ne $gt $gte $lt $lte $like "
            "$in $nin, joined by $and: / $or:, grouped by parentheses; escapes $$ $( $) $* "
            f"$, $[ $]. Filterable here: {fields}.",
        },
        {
            "name": "sort",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "Comma-separated properties; `-` before one sorts it descending, "
            "`~` alphabetically (numbers as text).",
        },
    ]


def _text(maximum: int, minimum: int = 0) -> Schema:
    schema: Schema = {"type": "string", "maxLength": maximum}
    if minimum:
        schema["minLength"] = minimum
    return schema


def _ref(number: str) -> Schema:
    return {
        "type": "object",
        "properties": {number: {"type": "integer", "minimum": 1}, "self": {"type": "string"}},
    }


_DATE: Schema = {"type": "string", "format": "date"}
_AMOUNT: Schema = {"type": "number"}

CUSTOMER: Schema = {
    "type": "object",
    "required": ["currency", "customerGroup", "name", "paymentTerms", "vatZone"],
    "properties": {
        "customerNumber": {"type": "integer", "minimum": 1, "maximum": 999_999_999},
        "name": _text(255, 1),
        "currency": _text(3),
        "customerGroup": _ref("customerGroupNumber"),
        "paymentTerms": _ref("paymentTermsNumber"),
        "vatZone": _ref("vatZoneNumber"),
        "layout": _ref("layoutNumber"),
        "address": _text(510),
        "zip": _text(30),
        "city": _text(50),
        "country": _text(50),
        "email": _text(255),
        "telephoneAndFaxNumber": _text(255),
        "mobilePhone": _text(50),
        "website": _text(255),
        "corporateIdentificationNumber": _text(40),
        "pNumber": _text(10, 10),
        "ean": _text(13),
        "publicEntryNumber": _text(50),
        "vatNumber": _text(20),
        "barred": {"type": "boolean"},
        "creditLimit": _AMOUNT,
        "eInvoicingDisabledByDefault": {"type": "boolean"},
    },
}

DELIVERY_LOCATION: Schema = {
    "type": "object",
    "properties": {
        "address": _text(255),
        "postalCode": _text(15),
        "city": _text(50),
        "country": _text(50),
        "termsOfDelivery": _text(100),
    },
}

CONTACT: Schema = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": _text(255, 1),
        "email": _text(255),
        "phone": _text(50),
        "eInvoiceId": _text(50),
        "notes": _text(2000),
    },
}

# PUT /self/company: a full replace (routes_vat.replace_company, which names its source).
COMPANY: Schema = {
    "type": "object",
    "required": ["addressLine1", "zip", "city", "name", "phoneNumber", "attention", "email"],
    "properties": {
        key: _text(255)
        for key in (
            "addressLine1", "addressLine2", "zip", "city", "name", "country", "phoneNumber",
            "attention", "website", "email", "companyIdentificationNumber", "vatNumber",
        )
    },
}  # fmt: skip

PRODUCT: Schema = {
    "type": "object",
    "required": ["productNumber", "name", "productGroup"],
    "properties": {
        "productNumber": _text(25, 1),
        "name": _text(300, 1),
        "description": _text(500),
        "barCode": _text(50),
        "salesPrice": _AMOUNT,
        "costPrice": _AMOUNT,
        "recommendedPrice": _AMOUNT,
        "barred": {"type": "boolean"},
        "productGroup": _ref("productGroupNumber"),
        "unit": _ref("unitNumber"),
    },
}

_LINE: Schema = {
    "type": "object",
    "properties": {
        "lineNumber": {"type": "integer", "minimum": 1},
        "sortKey": {"type": "integer", "minimum": 1},
        "description": _text(2500),
        "product": {"type": "object", "properties": {"productNumber": _text(25, 1)}},
        "quantity": _AMOUNT,
        "unitNetPrice": _AMOUNT,
        "discountPercentage": _AMOUNT,
        "unitCostPrice": _AMOUNT,
        "unit": _ref("unitNumber"),
    },
}

DRAFT_INVOICE: Schema = {
    "type": "object",
    "required": ["currency", "customer", "date", "layout", "paymentTerms", "recipient"],
    "properties": {
        "date": _DATE,
        "currency": _text(3),
        "exchangeRate": _AMOUNT,
        "dueDate": _DATE,
        "paymentTerms": _ref("paymentTermsNumber"),
        "customer": _ref("customerNumber"),
        "layout": _ref("layoutNumber"),
        "recipient": {
            "type": "object",
            "required": ["name", "vatZone"],
            "properties": {
                "name": _text(250),
                "address": _text(250),
                "zip": _text(50),
                "city": _text(250),
                "country": _text(50),
                "ean": _text(13),
                "publicEntryNumber": _text(40),
                "attention": _ref("customerContactNumber"),
                "vatZone": _ref("vatZoneNumber"),
            },
        },
        "delivery": {
            "type": "object",
            "properties": {
                "address": _text(255),
                "zip": _text(30),
                "city": _text(50),
                "country": _text(50),
                "deliveryTerms": _text(100),
                "deliveryDate": _DATE,
            },
        },
        "notes": {
            "type": "object",
            "properties": {
                "heading": _text(250),
                "textLine1": _text(1000),
                "textLine2": _text(1000),
            },
        },
        "references": {
            "type": "object",
            "properties": {
                "other": _text(250),
                "customerContact": _ref("customerContactNumber"),
            },
        },
        "lines": {"type": "array", "items": _LINE},
    },
}

BOOK_INVOICE: Schema = {
    "type": "object",
    "required": ["draftInvoice"],
    "properties": {
        "draftInvoice": _ref("draftInvoiceNumber"),
        "bookWithNumber": {"type": "integer", "minimum": 1},
        "sendBy": {"type": "string", "enum": ["none", "EAN", "Email"]},
    },
}

_ENTRY_COMMON: Schema = {
    "date": _DATE,
    "amount": _AMOUNT,
    "currency": {"type": "object", "properties": {"code": _text(3)}},
    "text": _text(250),
}

VOUCHERS: Schema = {
    "type": "object",
    "required": ["accountingYear", "entries"],
    "properties": {
        "accountingYear": {"type": "object", "properties": {"year": _text(20, 4)}},
        "journal": _ref("journalNumber"),
        "voucherNumber": {"type": "integer", "minimum": 1},
        "entries": {
            "type": "object",
            "properties": {
                "financeVouchers": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["date", "amount", "account", "contraAccount"],
                        "properties": {
                            **_ENTRY_COMMON,
                            "account": _ref("accountNumber"),
                            "contraAccount": _ref("accountNumber"),
                        },
                    },
                },
                "customerPayments": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["date", "amount"],
                        "properties": {
                            **_ENTRY_COMMON,
                            "customer": _ref("customerNumber"),
                            "contraAccount": _ref("accountNumber"),
                            "customerInvoice": {"type": "integer", "minimum": 1},
                        },
                    },
                },
            },
        },
    },
}


def collections() -> dict[str, Sequence[str]]:
    """Every list route (under /economic) and the properties its `filter` takes."""
    found: dict[str, Sequence[str]] = {
        path: filterable for path, _, filterable, _ in routes_reference._RESOURCES
    }
    found.update(
        {
            "/customers": routes_customers.FILTERABLE,
            "/customers/{number}/delivery-locations": (),
            "/customers/{number}/contacts": (),
            "/products": routes_products.FILTERABLE,
            "/invoices/drafts": routes_invoices.DRAFT_FILTERABLE,
            "/invoices/booked": routes_invoices.BOOKED_FILTERABLE,
            "/invoices/sent": (),
            "/journals/{journal}/vouchers": ("voucherNumber",),
            "/journals/{journal}/entries": journal_entries.FILTERABLE,
            "/accounting-years": accounting_years.FILTERABLE,
            "/vat-accounts": routes_vat.VAT_ACCOUNT_FILTERABLE,
            "/product-groups/{group}/sales-accounts": (),
        }
    )
    return found


#: "METHOD path" (under /economic) -> the JSON body it takes.
BODIES: dict[str, Schema] = {
    "POST /customers": CUSTOMER,
    "PUT /customers/{number}": CUSTOMER,
    "POST /customers/{number}/delivery-locations": DELIVERY_LOCATION,
    "POST /customers/{number}/contacts": CONTACT,
    "POST /products": PRODUCT,
    "POST /invoices/drafts": DRAFT_INVOICE,
    "POST /invoices/booked": BOOK_INVOICE,
    "POST /journals/{journal}/vouchers": VOUCHERS,
    "PUT /self/company": COMPANY,
}


# Shopify's GraphQL Admin API takes one JSON body (shopify.dev, "GraphQL Admin API").
GRAPHQL: Schema = {
    "type": "object",
    "required": ["query"],
    "properties": {
        "query": {"type": "string"},
        "variables": {"type": "object"},
        "operationName": {"type": "string"},
    },
}
SHOPIFY_GRAPHQL = "/shopify/admin/api/{version}/graphql.json"


def _item_links() -> dict[tuple[str, str], tuple[str, list[tuple[str, str]]]]:
    """(method, route) of a list or a create -> (its answer's pointer to an item's key, the
    item routes that key opens). A client, and `make fuzz-api`'s stateful phase, follows them
    with real keys instead of guessing."""
    customer = [
        ("get", "/customers/{number}"),
        ("put", "/customers/{number}"),
        ("get", "/customers/{number}/contacts"),
        ("post", "/customers/{number}/contacts"),
        ("get", "/customers/{number}/delivery-locations"),
        ("post", "/customers/{number}/delivery-locations"),
    ]
    draft = [("get", "/invoices/drafts/{number}"), ("delete", "/invoices/drafts/{number}")]
    journal = [("get", "/journals/{journal}/vouchers"), ("post", "/journals/{journal}/vouchers")]
    links: dict[tuple[str, str], tuple[str, list[tuple[str, str]]]] = {
        ("get", "/customers"): ("/collection/0/customerNumber", customer),
        ("post", "/customers"): ("/customerNumber", customer),
        ("get", "/invoices/drafts"): ("/collection/0/draftInvoiceNumber", draft),
        ("post", "/invoices/drafts"): ("/draftInvoiceNumber", draft),
        ("get", "/invoices/booked"): (
            "/collection/0/bookedInvoiceNumber",
            [("get", "/invoices/booked/{number}")],
        ),
        ("get", "/products"): ("/collection/0/productNumber", [("get", "/products/{product_id}")]),
        ("post", "/products"): ("/productNumber", [("get", "/products/{product_id}")]),
        ("get", "/journals"): ("/collection/0/journalNumber", journal),
    }
    for path, _, filterable, _ in routes_reference._RESOURCES:
        # Each reference list's first filterable property is its key (layoutNumber, code, ...).
        links.setdefault(("get", path), (f"/collection/0/{filterable[0]}", []))[1].append(
            ("get", f"{path}/{{key}}")
        )
    return links


def _add_links(schema: Schema) -> None:
    paths = schema.get("paths", {})
    for (method, route), (pointer, targets) in _item_links().items():
        operation = paths.get(f"{PREFIX}{route}", {}).get(method)
        if operation is None:
            continue
        status = "201" if method == "post" else "200"
        answer = operation.setdefault("responses", {}).setdefault(
            status, {"description": "Successful Response"}
        )
        for target_method, target in targets:
            full = f"{PREFIX}{target}"
            if target_method not in paths.get(full, {}):
                continue  # a route renamed or gone: no link rather than a dangling one
            parameter = target[target.rindex("{") + 1 : target.rindex("}")]
            escaped = full.replace("~", "~0").replace("/", "~1")
            name = "_".join([target_method, *(p.strip("{}") for p in target[1:].split("/"))])
            answer.setdefault("links", {})[name] = {
                "operationRef": f"#/paths/{escaped}/{target_method}",
                "parameters": {parameter: f"$response.body#{pointer}"},
            }


def _json_body(schema: Schema) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def add_to(schema: Schema) -> Schema:
    """Fill the declarations into the app's generated OpenAPI `schema` (in place)."""
    _add_links(schema)
    lists = collections()
    for path, item in schema.get("paths", {}).items():
        if path == SHOPIFY_GRAPHQL and "post" in item:
            item["post"]["requestBody"] = _json_body(GRAPHQL)
        if not path.startswith(f"{PREFIX}/"):
            continue
        route = path.removeprefix(PREFIX)
        for method, operation in item.items():
            parameters = operation.setdefault("parameters", [])
            if method == "get" and route in lists:
                parameters.extend(collection_parameters(lists[route]))
            parameters.append(DEMO)
            body = BODIES.get(f"{method.upper()} {route}")
            if body is not None:
                operation["requestBody"] = _json_body(body)
    return schema


__all__ = ["BODIES", "add_to", "collection_parameters", "collections"]
