"""Which accounting year a payment is posted in: the open one holding its date, never a guess."""

from __future__ import annotations

from datetime import date

import pytest

from lb_connectors.economic.accounting_years import (
    AccountingYear,
    NoOpenAccountingYear,
    year_for,
)

# As e-conomic lists them (GET /accounting-years): a string key, and no `closed` when open.
YEARS = [
    AccountingYear.model_validate(y)
    for y in (
        {"year": "2024", "fromDate": "2024-01-01", "toDate": "2024-06-30", "closed": True},
        {"year": "2024/2025", "fromDate": "2024-07-01", "toDate": "2025-06-30"},
        {"year": "2025/2026", "fromDate": "2025-07-01", "toDate": "2026-12-31"},
    )
]


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (date(2024, 7, 1), "2024/2025"),
        (date(2025, 6, 30), "2024/2025"),
        (date(2025, 7, 1), "2025/2026"),
        (date(2026, 12, 31), "2025/2026"),  # an 18-month year
    ],
)
def test_the_open_year_holding_the_date(day: date, year: str) -> None:
    assert year_for(day, YEARS, what="The payment").year == year


def test_a_closed_year_is_named_with_what_to_do() -> None:
    with pytest.raises(NoOpenAccountingYear) as caught:
        year_for(date(2024, 3, 1), YEARS, what="The payment of invoice 7")
    reason = caught.value.reason
    assert "2024-03-01" in reason and "accounting year 2024" in reason and "closed" in reason
    assert "replay" in reason


def test_a_date_no_year_holds_lists_the_years_there_are() -> None:
    with pytest.raises(NoOpenAccountingYear) as caught:
        year_for(date(2027, 1, 1), YEARS, what="The payment of invoice 7")
    reason = caught.value.reason
    assert "2027-01-01" in reason and "no accounting year" in reason
    assert (
        "2025/2026 (2025-07-01 to 2026-12-31)" in reason and "Create the accounting year" in reason
    )
