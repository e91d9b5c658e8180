"""Ledger ids in events are text; a message queued before the ledger port, with numbers, is
still read (the ids as their decimal text)."""

from __future__ import annotations

import json
from decimal import Decimal

from lb_common.events import CreditNoteBooked, InvoiceBooked, ResolvedCustomer


def test_an_invoice_booked_message_from_before_the_port_is_read_with_text_ids() -> None:
    queued = json.loads(
        '{"order_key": "shopify:demo:1001", "customer_number": 7, "draft_invoice_number": 3,'
        ' "booked_invoice_number": 20001, "currency": "DKK", "net_amount": "100.00",'
        ' "gross_amount": "125.00"}'
    )
    event = InvoiceBooked.model_validate(queued)
    assert (event.customer_number, event.draft_invoice_number, event.booked_invoice_number) == (
        "7",
        "3",
        "20001",
    )
    assert event.gross_amount == Decimal("125.00")
    # Written again, the ids are strings: what any ledger's adapter gives.
    assert json.loads(event.model_dump_json())["booked_invoice_number"] == "20001"


def test_a_quickbooks_style_id_passes_through_and_a_boolean_is_refused() -> None:
    note = CreditNoteBooked(
        order_key="keap:1:9",
        customer_number="58",
        booked_invoice_number="CM-1042",
        currency="USD",
        gross_amount=Decimal("10.00"),
    )
    assert note.booked_invoice_number == "CM-1042"
    try:
        CreditNoteBooked.model_validate({**note.model_dump(), "customer_number": True})
    except ValueError as exc:
        assert "customer_number" in str(exc)
    else:
        raise AssertionError("a boolean is not a ledger id")


def test_a_resolved_customer_from_before_the_port_is_read_in_the_neutral_shape() -> None:
    queued = json.loads(
        '{"name": "Jane Doe", "currency": "DKK", "group_number": 1, "payment_terms_number": 2,'
        ' "vat_zone_number": 3, "layout_number": null, "corporate_identification_number":'
        ' "12345678", "read_at": "2026-11-28T10:00:00Z"}'
    )
    customer = ResolvedCustomer.model_validate(queued)
    assert (customer.group, customer.payment_terms, customer.tax_zone, customer.layout) == (
        "1",
        "2",
        "3",
        None,
    )
    assert customer.vat_id == "12345678"
    # A ledger without customer groups (QuickBooks) leaves them out.
    assert ResolvedCustomer(name="Ann Lee", read_at=customer.read_at).group is None
