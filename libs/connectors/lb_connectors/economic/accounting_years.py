"""Which accounting year a posting date belongs to.

e-conomic's accounting years are not calendar years (schema accounting-years.get): each has a
`year` key, "YYYY" or "YYYY/YYYY" (a string), a `fromDate` and a `toDate` (6 to 18 months; the
first day after the previous year, the last day of a month), and `closed`, true once the year is
closed for further transactions. Recorded answers leave `closed` out for open years
(traels-it/economic-rest fixtures), so a missing `closed` reads as open. A journal voucher names
its year (`accountingYear.year`, schema journals.journalNumber.vouchers.post), and e-conomic
books nothing into a year that does not exist or is closed.
"""

from __future__ import annotations

import datetime as dt

from lb_common.errors import PermanentError

from .models import Linked


class AccountingYear(Linked):
    year: str  # "2026" or "2025/2026": e-conomic's key, never a number
    from_date: dt.date
    to_date: dt.date
    closed: bool = False

    def holds(self, day: dt.date) -> bool:
        return self.from_date <= day <= self.to_date


class NoOpenAccountingYear(PermanentError):
    """No open accounting year in e-conomic holds the date of a posting."""


def year_for(day: dt.date, years: list[AccountingYear], *, what: str) -> AccountingYear:
    """The open accounting year that holds `day`; `what` names the posting for the message."""
    holding = [y for y in years if y.holds(day)]
    open_ = [y for y in holding if not y.closed]
    if open_:
        return min(open_, key=lambda y: y.from_date)
    if holding:
        closed = holding[0]
        raise NoOpenAccountingYear(
            f"{what} is dated {day.isoformat()}, which falls in accounting year "
            f"{closed.year} ({closed.from_date.isoformat()} to {closed.to_date.isoformat()}), "
            "and that year is closed in e-conomic. Reopen the year in e-conomic, or register "
            "the payment by hand in an open year; then replay the order."
        )
    known = ", ".join(
        f"{y.year} ({y.from_date.isoformat()} to {y.to_date.isoformat()})"
        for y in sorted(years, key=lambda y: y.from_date)
    )
    raise NoOpenAccountingYear(
        f"{what} is dated {day.isoformat()}, but no accounting year in e-conomic holds that "
        f"date (the agreement has {known or 'none'}). Create the accounting year in e-conomic "
        "(Settings, Accounting years), then replay the order."
    )
