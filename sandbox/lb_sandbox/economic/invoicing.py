"""Draft invoices and booking: validation, pricing and the booked document.

Pricing follows e-conomic's observable behaviour: each line's net is rounded to 2 decimals, its
VAT is the rate e-conomic finds for the line's product in the recipient's VAT zone (vat.py:
product group → sales account → VAT code → rate) applied per line, and totals are sums of
rounded lines.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .einvoice import check_ean_preconditions
from .errors import (
    DOES_NOT_EXIST,
    DUE_BEFORE_DATE,
    INVALID_VALUE,
    MISSING_VALUE,
    NO_PRODUCT_IDENTIFIER,
    QUANTITY_MISSING,
    SCALE_TOO_BIG,
    EconomicHTTPError,
    Problems,
)
from .paths import path_number
from .state import Agreement, Entity, now_utc_text
from .validation import (
    currency_code,
    date_text,
    decimals_beyond,
    get_path,
    integer,
    number,
    reference,
    reject_nulls,
    require,
    string,
)
from .vat import NoSalesAccount, line_vat

CENT = Decimal("0.01")
HUNDRED = Decimal("100")

_TEXT_LIMITS: dict[tuple[str, str], int] = {
    ("recipient", "address"): 250, ("recipient", "zip"): 50, ("recipient", "city"): 250,
    ("recipient", "country"): 50, ("recipient", "ean"): 13, ("recipient", "publicEntryNumber"): 40,
    ("delivery", "address"): 255, ("delivery", "zip"): 30, ("delivery", "city"): 50,
    ("delivery", "country"): 50, ("delivery", "deliveryTerms"): 100,
    ("notes", "heading"): 250, ("notes", "textLine1"): 1000, ("notes", "textLine2"): 1000,
    ("references", "other"): 250,
}  # fmt: skip


def _round(value: Decimal) -> Decimal:
    try:
        return value.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than a decimal holds: a line of absurd size
        raise EconomicHTTPError(
            400, "Amount is out of range.", "Keep quantity times unitNetPrice within range."
        ) from None


def _has_more_than_two_decimals(value: Decimal) -> bool:
    return decimals_beyond(value, 2)


def _lines(a: Agreement, body: dict[str, Any], problems: Problems) -> list[Entity]:
    raw = body.get("lines", [])
    if not isinstance(raw, list):
        problems.add(("lines",), INVALID_VALUE, "lines must be an array.")
        return []
    lines: list[Entity] = []
    for i, item in enumerate(raw):
        path: tuple[str | int, ...] = ("lines", i)
        if not isinstance(item, dict):
            problems.add(path, INVALID_VALUE, "A line must be an object.")
            continue
        product = item.get("product")
        product_number = product.get("productNumber") if isinstance(product, dict) else None
        if (
            product_number is None
            and isinstance(product, dict)
            and isinstance(product.get("self"), str)
        ):
            product_number = product["self"].rstrip("/").rsplit("/", 1)[-1]
        if not isinstance(product_number, str):
            problems.add(
                (*path, "product"), NO_PRODUCT_IDENTIFIER,
                "No identifiers present on product. Please include either a self link or a productNumber.",
            )  # fmt: skip
            continue
        stored = a.products.get(product_number)
        if stored is None:
            problems.add(
                (*path, "product"), DOES_NOT_EXIST, "product does not exist.", product_number
            )
            continue
        quantity = number(body, problems, (*path, "quantity"))
        if quantity is None and item.get("quantity") is None:
            problems.add(
                (*path, "quantity"), QUANTITY_MISSING,
                "Property quantity must have a value when product is set.",
            )  # fmt: skip
        price = number(body, problems, (*path, "unitNetPrice"))
        if price is not None and _has_more_than_two_decimals(price):
            problems.add(
                (*path, "unitNetPrice"), SCALE_TOO_BIG,
                "unitNetPrice scale cannot be greater then two decimal places.", price,
            )  # fmt: skip
        discount = number(body, problems, (*path, "discountPercentage"))
        line_number = integer(body, problems, (*path, "lineNumber"), minimum=1)
        sort_key = integer(body, problems, (*path, "sortKey"), minimum=1)
        description = string(body, problems, (*path, "description"), 2500)
        line: Entity = {
            "lineNumber": line_number or i + 1,
            "sortKey": sort_key or i + 1,
            # An existing product lends its name when the caller sends no description.
            "description": description if description is not None else stored["name"],
            "quantity": quantity if quantity is not None else Decimal("0"),
            # Without a price e-conomic uses the product's sales price.
            "unitNetPrice": price if price is not None else stored["salesPrice"],
            "discountPercentage": discount if discount is not None else Decimal("0.00"),
            "unitCostPrice": Decimal("0.00"),
            "product": {"productNumber": product_number, "self": stored["self"]},
        }
        unit = get_path(item, ("unit", "unitNumber"))
        if isinstance(unit, int) and not isinstance(unit, bool):
            line["unit"] = {"unitNumber": unit, "self": a.link(f"/units/{unit}")}
        lines.append(line)
    return lines


def price_line(line: Entity, vat_rate: Decimal) -> tuple[Decimal, Decimal]:
    gross_price = line["quantity"] * line["unitNetPrice"]
    net = _round(gross_price * (HUNDRED - line["discountPercentage"]) / HUNDRED)
    return net, _round(net * vat_rate / HUNDRED)


def line_rates(a: Agreement, doc: Entity) -> list[Decimal]:
    """Each line's VAT rate (percent) from its product's group and the recipient's zone."""
    zone = doc["recipient"]["vatZone"]["vatZoneNumber"]
    return [line_vat(a, line["product"]["productNumber"], zone)[0] for line in doc["lines"]]


def _check_sales_accounts(a: Agreement, lines: list[Entity], zone: int | None) -> None:
    """A line whose product group books nothing in the recipient's zone is refused (the code
    e-conomic returns for it is [unconfirmed]; vat.py)."""
    if zone is None:
        return
    problems = Problems()
    for i, line in enumerate(lines):
        try:
            line_vat(a, line["product"]["productNumber"], zone)
        except NoSalesAccount as exc:
            problems.add(("lines", i, "product"), INVALID_VALUE, str(exc))
    problems.raise_if_any()


def _due_date(body: dict[str, Any], problems: Problems, term: Entity, invoice_date: str) -> str:
    """dueDate is "only used if the terms of payment is of type 'duedate', in which case it is
    mandatory" (schema invoices.drafts.post): missing gives E04042, earlier than the invoice
    date E04760 (EConomic.NET legacy-api-verification). For other types e-conomic derives it
    from the terms and ignores the value sent (same verification)."""
    if term["paymentTermsType"] != "dueDate":
        days = int(term.get("daysOfCredit", 0))
        return (date.fromisoformat(invoice_date) + timedelta(days=days)).isoformat()
    sent = date_text(body, problems, ("dueDate",))
    if body.get("dueDate") is None:
        problems.add(("dueDate",), MISSING_VALUE, "dueDate is missing a value.")
    elif sent is not None and sent < invoice_date:
        problems.add(("dueDate",), DUE_BEFORE_DATE, "dueDate cannot be earlier than date.", sent)
    return sent or invoice_date


def build_draft(a: Agreement, body: dict[str, Any]) -> Entity:
    problems = Problems()
    reject_nulls(body, problems)
    require(
        body, problems, ("currency",), ("customer",), ("date",), ("layout",), ("paymentTerms",),
        ("recipient",),
    )  # fmt: skip
    if isinstance(body.get("recipient"), dict):
        require(body, problems, ("recipient", "name"), ("recipient", "vatZone"))
    invoice_date = date_text(body, problems, ("date",))
    currency = currency_code(body, problems, ("currency",), a.currencies)
    customer = reference(body, problems, ("customer",), "customerNumber", a.customers)
    layout = reference(body, problems, ("layout",), "layoutNumber", a.layouts)
    terms = reference(body, problems, ("paymentTerms",), "paymentTermsNumber", a.payment_terms)
    zone = reference(body, problems, ("recipient", "vatZone"), "vatZoneNumber", a.vat_zones)
    recipient_name = string(body, problems, ("recipient", "name"), 250)
    texts = {path: string(body, problems, path, limit) for path, limit in _TEXT_LIMITS.items()}
    delivery_date = date_text(body, problems, ("delivery", "deliveryDate"))
    lines = _lines(a, body, problems)
    if invoice_date and terms:
        due = _due_date(body, problems, a.payment_terms[terms], invoice_date)
    problems.raise_if_any()
    assert invoice_date and currency and customer and layout and terms and zone and recipient_name
    _check_sales_accounts(a, lines, zone)

    number = a.next_draft_number
    a.next_draft_number += 1
    link = a.link(f"/invoices/drafts/{number}")
    term = a.payment_terms[terms]
    recipient: Entity = {"name": recipient_name}
    sections: dict[str, Entity] = {"delivery": {}, "notes": {}, "references": {}}
    for (section, key), value in texts.items():
        if value is not None:
            (recipient if section == "recipient" else sections[section])[key] = value
    recipient["vatZone"] = {"vatZoneNumber": zone, "self": a.vat_zones[zone]["self"]}
    # The buyer's reference person: a contact of this customer (recipient.attention and
    # references.customerContact).
    contacts = a.contacts.get(customer, {})
    for parent, key in ((recipient, "attention"), (sections["references"], "customerContact")):
        source = body.get("recipient" if key == "attention" else "references") or {}
        wanted = (source.get(key) or {}).get("customerContactNumber")
        if wanted is None:
            continue
        if wanted not in contacts:
            raise EconomicHTTPError(
                400,
                f"Contact {wanted} does not exist on customer {customer}.",
                "List /customers/{n}/contacts to find the customer's contacts.",
            )
        parent[key] = {"customerContactNumber": wanted, "self": contacts[wanted]["self"]}
    if delivery_date:
        sections["delivery"]["deliveryDate"] = delivery_date
    draft: Entity = {
        "draftInvoiceNumber": number,
        "soap": {"currentInvoiceHandle": {"id": number}},
        "templates": {
            "bookingInstructions": f"{link}/templates/booking-instructions",
            "self": f"{link}/templates",
        },
        "date": invoice_date,
        "currency": currency,
        "exchangeRate": Decimal("100.000000"),
        "dueDate": due,
        "paymentTerms": {
            "paymentTermsNumber": terms,
            "daysOfCredit": term["daysOfCredit"],
            "name": term["name"],
            "paymentTermsType": term["paymentTermsType"],
            "self": term["self"],
        },
        "customer": {"customerNumber": customer, "self": a.customers[customer]["self"]},
        "recipient": recipient,
        "layout": {"layoutNumber": layout, "self": a.layouts[layout]["self"]},
        "lines": lines,
        "pdf": {"download": f"{link}/pdf"},
        "lastUpdated": now_utc_text(),
        "self": link,
    }
    draft.update({name: section for name, section in sections.items() if section})
    _set_totals(a, draft)
    return draft


def _set_totals(a: Agreement, doc: Entity) -> None:
    rates = line_rates(a, doc)
    priced = [price_line(line, rate) for line, rate in zip(doc["lines"], rates, strict=True)]
    net = sum((n for n, _ in priced), Decimal("0.00"))
    vat = sum((v for _, v in priced), Decimal("0.00"))
    doc.update(
        {
            "netAmount": net,
            "netAmountInBaseCurrency": net,
            "grossAmount": net + vat,
            "grossAmountInBaseCurrency": net + vat,
            "vatAmount": vat,
            "roundingAmount": Decimal("0.00"),
        }
    )


def draft_list_view(draft: Entity) -> Entity:
    """The draft list omits lines; only a single GET returns them."""
    return {k: v for k, v in draft.items() if k != "lines"}


# The properties of an item of GET /invoices/booked, per e-conomic's schema
# (invoices.booked.get.schema.json, `collection.items`): no `lines` (and no `orderNumber`);
# only GET /invoices/booked/{n} (invoices.booked.bookedInvoiceNumber.get.schema.json) has them.
BOOKED_LIST_PROPERTIES = frozenset({
    "bookedInvoiceNumber", "currency", "customer", "date", "delivery", "deliveryLocation",
    "dueDate", "exchangeRate", "grossAmount", "grossAmountInBaseCurrency", "layout", "netAmount",
    "netAmountInBaseCurrency", "notes", "paymentTerms", "pdf", "project", "recipient",
    "references", "remainder", "remainderInBaseCurrency", "roundingAmount", "self", "sent",
    "vatAmount",
})  # fmt: skip


def booked_list_view(booked: Entity) -> Entity:
    """A booked invoice as the list shows it: without its lines (read it by number for them)."""
    return {k: v for k, v in booked.items() if k in BOOKED_LIST_PROPERTIES}


def book(a: Agreement, body: dict[str, Any]) -> Entity:
    problems = Problems()
    reject_nulls(body, problems)
    require(body, problems, ("draftInvoice",))
    ref = body.get("draftInvoice")
    draft_number = get_path(body, ("draftInvoice", "draftInvoiceNumber"))
    if draft_number is None and isinstance(ref, dict) and isinstance(ref.get("self"), str):
        tail = ref["self"].rstrip("/").rsplit("/", 1)[-1]
        draft_number = path_number(tail)
    # Anything but an object with a number or a self link (a list, a text, `true`) is refused.
    if ref is not None and (not isinstance(draft_number, int) or isinstance(draft_number, bool)):
        problems.add(
            ("draftInvoice",),
            INVALID_VALUE,
            "draftInvoice needs draftInvoiceNumber or a self link.",
        )
    book_with = integer(body, problems, ("bookWithNumber",), minimum=1)
    if book_with is not None and book_with in a.booked:
        problems.add(
            ("bookWithNumber",),
            INVALID_VALUE,
            f"Invoice number {book_with} is already used.",
            book_with,
        )
    send_by = body.get("sendBy")
    if send_by is not None and send_by not in ("none", "EAN", "Email"):
        problems.add(("sendBy",), INVALID_VALUE, "sendBy must be one of none, EAN, Email.", send_by)
    problems.raise_if_any()
    assert isinstance(draft_number, int)
    draft = a.drafts.get(draft_number)
    if draft is None:
        # The draft is gone once booked, so a second booking finds nothing, as on e-conomic.
        booked_as = a.booked_drafts.get(draft_number)
        message = f"Draft invoice {draft_number} not found."
        if booked_as is not None:
            # Real e-conomic only says "not found"; naming the booked invoice helps the demo.
            message = f"Draft invoice {draft_number} not found: it was already booked as invoice {booked_as}."
        raise EconomicHTTPError(
            404, message, "List /invoices/drafts to find the drafts that exist."
        )
    # The VAT setup may have changed since the draft was made.
    _check_sales_accounts(a, draft["lines"], draft["recipient"]["vatZone"]["vatZoneNumber"])
    if send_by == "EAN":
        check_ean_preconditions(a, draft)
    number = book_with if book_with is not None else max(a.booked, default=0) + 1
    booked = _booked_from(a, draft, number)
    _take_from_stock(a, booked["lines"])
    del a.drafts[draft_number]
    a.booked[number] = booked
    a.booked_drafts[draft_number] = number
    if send_by in ("EAN", "Email"):
        recipient = booked.get("recipient") or {}
        a.sent.append(
            {
                "id": len(a.sent) + 1,
                "creationDate": booked["date"],
                "invoice": {"bookedInvoiceNumber": number, "self": booked["self"]},
                "recipient": {"name": recipient.get("name"), "ean": recipient.get("ean")},
                "sendBy": send_by.lower() if send_by == "EAN" else send_by,
                "status": "sent",
                "self": a.link(f"/invoices/sent/{len(a.sent) + 1}"),
            }
        )
    return booked


def _booked_from(a: Agreement, draft: Entity, number: int) -> Entity:
    link = a.link(f"/invoices/booked/{number}")
    _set_totals(a, draft)  # the VAT setup may have changed since the draft was made
    lines = []
    for line, rate in zip(draft["lines"], line_rates(a, draft), strict=True):
        net, vat = price_line(line, rate)
        lines.append({**line, "vatRate": rate, "vatAmount": vat, "totalNetAmount": net})
    skip = {"draftInvoiceNumber", "soap", "templates", "lines", "pdf", "lastUpdated", "self"}
    booked: Entity = {"bookedInvoiceNumber": number, "orderNumber": draft["draftInvoiceNumber"]}
    booked.update({k: v for k, v in draft.items() if k not in skip})
    booked.update(
        {
            "remainder": draft["grossAmount"],
            "remainderInBaseCurrency": draft["grossAmount"],
            "lines": lines,
            "pdf": {"download": f"{link}/pdf"},
            "sent": f"{link}/sent",
            "self": link,
        }
    )
    return booked


def _take_from_stock(a: Agreement, lines: list[Entity]) -> None:
    stamp = now_utc_text()
    for line in lines:
        product = a.products.get(line["product"]["productNumber"])
        if product is None or "inventory" not in product:
            continue
        inventory = product["inventory"]
        inventory["inStock"] -= line["quantity"]
        inventory["available"] -= line["quantity"]
        inventory["inventoryLastUpdated"] = stamp
        product["lastUpdated"] = stamp  # moves with inventory, so lastUpdated polling sees it
