"""Is the ledger customer still the buyer the order was resolved to?

A customer number is only a number: when a ledger is restored from an older copy or reset, the
number the customers service resolved an order to can come to belong to someone else, and a
message that waited (parked, then retried) would invoice the wrong person. The customers
service says which of the buyer's details tied them to the customer (`matched_on`); before
drafting, invoicing looks for that detail on the customer the draft is made with, so the check
costs no extra call. On a first attempt that is the customer as customers just read it (or
invoicing's cache); a retry reads it from the ledger again, so a message that waited is judged
on the ledger as it is now.

Checked are the details that name one buyer: e-mail address, CVR number and EAN number.
A customer without the detail at all (created with it switched off, say) cannot be told apart
and passes; so do orders booked on a default customer or through a link a person set.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lb_common.events import MatchEvidence
from lb_connectors.ledger import LedgerCustomer

_EMAIL_SPLIT = re.compile(r"[;,\s]+")
_COUNTRY_PREFIX = re.compile(r"^[A-Z]{2}(?=\d)")


def _emails(text: str) -> set[str]:
    return {part.casefold() for part in _EMAIL_SPLIT.split(text) if part}


def _vat_number(text: str) -> set[str]:
    cleaned = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    return {_COUNTRY_PREFIX.sub("", cleaned)} if cleaned else set()


def _digits(text: str) -> set[str]:
    digits = re.sub(r"\D", "", text)
    return {digits} if digits else set()


# kind → (the customer's field, how a value of it is compared)
_CHECKED: dict[str, tuple[Callable[[LedgerCustomer], str | None], Callable[[str], set[str]]]] = {
    "email": (lambda c: c.email, _emails),
    "cvr": (lambda c: c.vat_id, _vat_number),
    "ean": (lambda c: c.ean, _digits),
}


def other_buyers_detail(evidence: MatchEvidence | None, customer: LedgerCustomer) -> str | None:
    """The customer's own value of the detail the buyer was matched on, when it is not the
    buyer's (the customer is someone else); None when it is, or when it cannot be told."""
    if evidence is None or evidence.kind not in _CHECKED:
        return None
    field, values = _CHECKED[evidence.kind]
    stored = field(customer)
    ledger = values(stored) if stored else set()
    if not ledger:
        return None
    return None if values(evidence.value) & ledger else stored
