"""/accounting-years, and the check that a journal voucher posts into an open year.

As e-conomic describes them (schemas accounting-years.get / .accountingYear.get / .post):
- `year` is a string, "YYYY" or "YYYY/YYYY" (the calendar years the accounting year spans);
- `fromDate` is the day after the previous year's `toDate` (the first year may start on any
  day), `toDate` is the last day of a month, and a year lasts at most 18 months; years follow
  each other without gaps (the AccountingYears OpenAPI's `ThereAreGapsBetweenAccountingYears`);
- `closed` is true once the year is closed for further transactions. Recorded answers carry no
  `closed` key for an open year (traels-it/economic-rest test/fixtures/json), so it is written
  only when true.
A voucher names its year (`accountingYear.year`, required: journals.journalNumber.vouchers.post)
and e-conomic refuses one whose year does not exist or is closed, and entries dated outside it
(the Journals OpenAPI 15.0.0 names `JournalVoucherAccountingYearDoesNotExist`,
`JournalVoucherAccountingYearClosed` and `JournalEntryDateAccountingYearDoesNotExist`; the
legacy REST API's own codes for them are unrecorded, so the sandbox answers in its annotated
validation shape with E06000, e-conomic's "does not exist" code, and a sandbox code for the rest).

A new agreement gets calendar years from FIRST_SEEDED_YEAR to next year, all open.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .auth import current_agreement
from .errors import DOES_NOT_EXIST, INVALID_VALUE, Problems, not_found
from .jsonio import EconomicJSONResponse
from .paging import collection
from .pipeline import EconomicRoute
from .state import Agreement, Entity

router = APIRouter(route_class=EconomicRoute)

FILTERABLE = ["fromDate", "toDate", "year"]  # accounting-years.get.schema.json
FIRST_SEEDED_YEAR = 2020
MAX_MONTHS = 18


def year_name(from_date: date, to_date: date) -> str:
    if from_date.year == to_date.year:
        return str(from_date.year)
    return f"{from_date.year}/{to_date.year}"


def _months(from_date: date, to_date: date) -> int:
    return (to_date.year - from_date.year) * 12 + to_date.month - from_date.month + 1


def _entity(a: Agreement, from_date: date, to_date: date, closed: bool) -> Entity:
    name = year_name(from_date, to_date)
    link = a.link(f"/accounting-years/{name}")
    year: Entity = {"year": name, "fromDate": from_date.isoformat(), "toDate": to_date.isoformat()}
    if closed:
        year["closed"] = True
    year.update(
        {
            "periods": f"{link}/periods",
            "entries": f"{link}/entries",
            "totals": f"{link}/totals",
            "vouchers": f"{link}/vouchers",
            "self": link,
        }
    )
    return year


def set_accounting_years(a: Agreement, years: list[tuple[date, date, bool]]) -> None:
    """Replace the agreement's years with `(fromDate, toDate, closed)`, in order, held to
    e-conomic's rules (the sandbox's stand-in for a bookkeeper's settings page)."""
    previous: date | None = None
    for from_date, to_date, _ in years:
        last_day = calendar.monthrange(to_date.year, to_date.month)[1]
        if to_date.day != last_day:
            raise ValueError(f"{to_date} is not the last day of a month")
        if previous is not None and (from_date - previous).days != 1:
            raise ValueError(f"{from_date} does not follow {previous}: no gaps between years")
        if not 1 <= _months(from_date, to_date) <= MAX_MONTHS:
            raise ValueError(f"{from_date} to {to_date} is not 1 to {MAX_MONTHS} months")
        previous = to_date
    a.accounting_years = {year_name(f, t): _entity(a, f, t, closed) for f, t, closed in years}


def seed_accounting_years(a: Agreement) -> None:
    last = datetime.now(UTC).year + 1
    set_accounting_years(
        a,
        [(date(y, 1, 1), date(y, 12, 31), False) for y in range(FIRST_SEEDED_YEAR, last + 1)],
    )


@router.get("/accounting-years")
async def list_accounting_years(
    request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    items = sorted(agreement.accounting_years.values(), key=lambda y: str(y["fromDate"]))
    return EconomicJSONResponse(
        collection(request, agreement, "/accounting-years", items, filterable=FILTERABLE)
    )


@router.get("/accounting-years/{year}")
async def get_accounting_year(
    year: str, agreement: Agreement = Depends(current_agreement)
) -> Response:
    # "YYYY/YYYY" keys cannot be written in this path; how e-conomic's legacy API spells them
    # there is unrecorded (the newer API writes 2024_6_2025), so only "YYYY" is served here.
    item = agreement.accounting_years.get(year)
    if item is None:
        raise not_found()
    return EconomicJSONResponse(item)


def check_voucher_year(
    a: Agreement, body: dict[str, Any], problems: Problems, year: str | None
) -> None:
    """The voucher's year exists and is open, and each entry's date falls inside it."""
    if year is None:
        return
    known = a.accounting_years.get(year)
    if known is None:
        problems.add(
            ("accountingYear",),
            DOES_NOT_EXIST,
            f"Accounting year {year} does not exist.",
            year,
        )
        return
    if known.get("closed"):
        problems.add(
            ("accountingYear",),
            INVALID_VALUE,
            f"Accounting year {year} is closed.",
            year,
        )
        return
    entries = body.get("entries")
    if not isinstance(entries, dict):
        return
    start, end = date.fromisoformat(known["fromDate"]), date.fromisoformat(known["toDate"])
    for kind, items in entries.items():
        if not isinstance(items, list):
            continue
        for i, entry in enumerate(items):
            when = entry.get("date") if isinstance(entry, dict) else None
            try:
                day = date.fromisoformat(when) if isinstance(when, str) else None
            except ValueError:
                continue  # the entry's own validation names a malformed date
            if day is not None and not start <= day <= end:
                problems.add(
                    ("entries", kind, i, "date"),
                    INVALID_VALUE,
                    f"date {day.isoformat()} is outside accounting year {year} "
                    f"({start.isoformat()} to {end.isoformat()}).",
                    day.isoformat(),
                )
