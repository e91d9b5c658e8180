"""Booking with `sendBy: "EAN"` (an OIOUBL e-invoice through NemHandel): e-conomic's
preconditions, checked before anything is booked.

Sources: SLATE `_invoices.md` "EAN" lists a valid CVR in the agreement settings, a valid EAN on
the customer, a contact person on the customer, a contact person on the invoice
(`recipient.attention`), a paying agreement and Danish agreements only; techtalk
"book-your-electronic-invoices-ean-via-rest-api" says the same; a live EAN booking carries
`recipient.ean` and `recipient.attention` (traels-it/economic-rest
create_booked_invoice_with_ean.json). The error codes e-conomic returns for each are not
documented: the body is e-conomic's validation shape, the codes sandbox-only (SBX-…).
Booking refuses, and nothing is booked, as e-conomic sends only when booking succeeds (SLATE).
A credit note (negative total) is checked the same way; whether e-conomic accepts an EAN
credit note at all is [unconfirmed].
"""

from __future__ import annotations

from .errors import INVALID_VALUE, MISSING_VALUE, Problems
from .state import Agreement, Entity


def _valid_ean(value: object) -> bool:
    text = str(value or "")
    return len(text) == 13 and text.isdigit()


def check_ean_preconditions(a: Agreement, draft: Entity) -> None:
    problems = Problems()
    cvr = str(a.company.get("companyIdentificationNumber") or "")
    if not cvr:
        problems.add(
            ("sendBy",),
            MISSING_VALUE,
            "The agreement has no CVR number (companyIdentificationNumber, Settings > Company); "
            "invoices sent by EAN need one.",
        )
    customer_number = draft["customer"]["customerNumber"]
    customer = a.customers.get(customer_number) or {}
    if not _valid_ean(customer.get("ean")):
        problems.add(
            ("customer", "ean"),
            MISSING_VALUE if not customer.get("ean") else INVALID_VALUE,
            f"Customer {customer_number} has no valid EAN number; invoices sent by EAN need one.",
            customer.get("ean"),
        )
    if not a.contacts.get(customer_number):
        problems.add(
            ("customer", "contacts"),
            MISSING_VALUE,
            f"Customer {customer_number} has no contact person; invoices sent by EAN need one.",
        )
    recipient = draft.get("recipient") or {}
    if not (recipient.get("attention") or {}).get("customerContactNumber"):
        problems.add(
            ("recipient", "attention"),
            MISSING_VALUE,
            "An invoice sent by EAN needs a contact person (recipient.attention).",
        )
    if not _valid_ean(recipient.get("ean")):
        problems.add(
            ("recipient", "ean"),
            INVALID_VALUE,
            "An invoice sent by EAN needs the recipient's 13-digit EAN number.",
            recipient.get("ean") or None,
        )
    problems.raise_if_any()
