"""Invoicing's check that the ledger customer is still the buyer the order was resolved to."""

from __future__ import annotations

from typing import Any

import pytest

from lb_common.events import MatchEvidence
from lb_connectors.economic.ledger import neutral_customer
from lb_connectors.economic.models import Customer
from lb_connectors.ledger import LedgerCustomer
from lb_invoicing.same_buyer import other_buyers_detail


def customer(**fields: Any) -> LedgerCustomer:
    return neutral_customer(
        Customer.model_validate(
            {
                "customerNumber": 1,
                "name": "Karen Jensen",
                "currency": "DKK",
                "customerGroup": {"customerGroupNumber": 1},
                "paymentTerms": {"paymentTermsNumber": 1},
                "vatZone": {"vatZoneNumber": 1},
                **fields,
            }
        )
    )


@pytest.mark.parametrize(
    ("kind", "value", "fields"),
    [
        ("email", "karen@example.com", {"email": "Karen@Example.com"}),
        ("email", "karen@example.com", {"email": "bogholderi@firma.dk; karen@example.com"}),
        ("cvr", "12345674", {"corporateIdentificationNumber": "DK 12 34 56 74"}),
        ("ean", "5798000363007", {"ean": "5798 0003 63007"}),
    ],
)
def test_the_same_buyer_in_the_ledgers_spelling_passes(kind, value, fields) -> None:
    assert other_buyers_detail(MatchEvidence(kind=kind, value=value), customer(**fields)) is None


@pytest.mark.parametrize(
    ("kind", "value", "fields", "theirs"),
    [
        ("email", "gustav@example.com", {"email": "karen@example.com"}, "karen@example.com"),
        ("cvr", "12345674", {"corporateIdentificationNumber": "87654321"}, "87654321"),
        ("ean", "5798000363007", {"ean": "5790000000005"}, "5790000000005"),
    ],
)
def test_someone_else_is_named_by_their_own_detail(kind, value, fields, theirs) -> None:
    evidence = MatchEvidence(kind=kind, value=value)
    assert other_buyers_detail(evidence, customer(**fields)) == theirs


def test_what_cannot_be_told_passes() -> None:
    # No evidence (default customer, a link a person set), a customer without the detail, or
    # a match key that does not name one buyer (a name, a phone number).
    assert other_buyers_detail(None, customer(email="karen@example.com")) is None
    email = MatchEvidence(kind="email", value="gustav@example.com")
    assert other_buyers_detail(email, customer()) is None
    name = MatchEvidence(kind="name", value="gustav test")
    assert other_buyers_detail(name, customer(email="karen@example.com")) is None
