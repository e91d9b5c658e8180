"""The customers report: totals per customer and currency, credit notes subtracted."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lb_invoicing.reports import Document, as_csv, customer_totals


def doc(customer: int, gross: str, day: str, currency: str = "DKK", name: str = "A") -> Document:
    return Document(customer, name, currency, Decimal(gross), date.fromisoformat(day))


def test_totals_since_a_date_above_an_amount_with_credit_notes_subtracted():
    documents = [
        doc(1, "4000.00", "2025-01-15"),  # before the date: not counted
        doc(1, "3000.00", "2025-02-10"),
        doc(1, "2500.00", "2025-03-01"),
        doc(1, "-600.00", "2025-03-05"),  # a credit note
        doc(2, "5000.00", "2025-02-02", name="B"),
        doc(3, "9000.00", "2025-02-02", currency="EUR", name="C"),
        doc(3, "100.00", "2025-02-03", name="C"),  # other currency: its own row
    ]
    rows = customer_totals(documents, since=date(2025, 2, 1), min_total=Decimal(5000))
    assert [(r.customer_number, r.currency, r.total) for r in rows] == [
        (3, "EUR", Decimal("9000.00")),
        (2, "DKK", Decimal("5000.00")),
    ]
    with_one = customer_totals(documents, since=date(2025, 2, 1), min_total=Decimal(4000))
    first = next(r for r in with_one if r.customer_number == 1)
    assert (first.total, first.invoices, first.credit_notes) == (Decimal("4900.00"), 2, 1)
    assert first.last_purchase == date(2025, 3, 5)


def test_csv_has_a_header_and_exact_amounts():
    rows = customer_totals(
        [doc(7, "5000.50", "2025-02-02", name="Tøj & Co")], since=None, min_total=Decimal(0)
    )
    lines = as_csv(rows).splitlines()
    assert lines[0] == "customer_number,name,currency,total,invoices,credit_notes,last_purchase"
    assert lines[1] == "7,Tøj & Co,DKK,5000.50,1,0,2025-02-02"
