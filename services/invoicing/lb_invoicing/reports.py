"""Purchase history reports (the CRM side): who bought for how much since when.

Totals are booked invoices minus booked credit notes, per customer and currency (amounts in
different currencies are never added together), gross (incl. VAT) as the customer paid them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lb_common.money import ZERO


@dataclass(frozen=True)
class Document:
    customer_number: int
    name: str | None
    currency: str
    gross: Decimal  # credit notes are negative
    day: date


@dataclass(frozen=True)
class CustomerTotal:
    customer_number: int
    name: str | None
    currency: str
    total: Decimal
    invoices: int
    credit_notes: int
    last_purchase: date


def customer_totals(
    documents: Iterable[Document], *, since: date | None, min_total: Decimal
) -> list[CustomerTotal]:
    """Customers whose total after `since` reaches `min_total`, largest first."""
    groups: dict[tuple[int, str], list[Document]] = {}
    for doc in documents:
        if since is None or doc.day >= since:
            groups.setdefault((doc.customer_number, doc.currency), []).append(doc)
    result = []
    for (number, currency), docs in groups.items():
        total = sum((d.gross for d in docs), ZERO)
        if total < min_total:
            continue
        latest = max(docs, key=lambda d: d.day)
        result.append(
            CustomerTotal(
                customer_number=number,
                name=next((d.name for d in reversed(docs) if d.name), None),
                currency=currency,
                total=total,
                invoices=sum(1 for d in docs if d.gross >= 0),
                credit_notes=sum(1 for d in docs if d.gross < 0),
                last_purchase=latest.day,
            )
        )
    return sorted(result, key=lambda t: (-t.total, t.customer_number))


def as_csv(rows: list[CustomerTotal]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "customer_number",
            "name",
            "currency",
            "total",
            "invoices",
            "credit_notes",
            "last_purchase",
        ]
    )
    for r in rows:
        writer.writerow(
            [
                r.customer_number,
                r.name or "",
                r.currency,
                f"{r.total}",
                r.invoices,
                r.credit_notes,
                r.last_purchase.isoformat(),
            ]
        )
    return out.getvalue()
