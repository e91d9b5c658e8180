"""What a chaos run did to the books: plain functions over the ledger's state, what the shop sent
(chaos_orders.Expected) and what ingest and the parking queues say.

The ledger (the sandbox's agreement state) is the judge: an order counts as booked when a booked
invoice carries its order key in `references.other`, a refund when a booked credit note carries
`<order key>:refund:<refund id>`, a cancellation `<order key>:cancel`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from scripts.chaos_orders import Expected

TOLERANCE = Decimal("0.01")
# Counted against the run: any of these above zero makes `make chaos` exit non-zero.
FAILURE_FIGURES = (
    "lost",
    "duplicated",
    "wrong_totals",
    "over_credited",
    "credits_missing",
    "parked",
)


# ingest's statuses of an order whose invoice is booked (a credit note moves it further on).
_BOOKED_OR_LATER = frozenset({"booked", "partly_credited", "credited", "credit_failed"})


@dataclass
class Problem:
    order_key: str
    figure: str  # which figure it counts in
    detail: str


@dataclass
class Verdict:
    orders: int = 0
    booked: int = 0
    cancelled_unbooked: int = 0  # cancelled before an invoice was made: legitimately none
    lost: int = 0
    duplicated: int = 0
    wrong_totals: int = 0
    over_credited: int = 0
    credits_missing: int = 0
    parked: int = 0
    parked_by_service: dict[str, int] = field(default_factory=dict)
    stray_drafts: int = 0
    duplicate_customers: int = 0
    status_behind: int = 0  # booked in the ledger, but ingest's status is still before booked
    problems: list[Problem] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(getattr(self, name) for name in FAILURE_FIGURES)

    def pending(self) -> list[str]:
        """Order keys whose documents are not (yet) all in the ledger."""
        return sorted(
            {p.order_key for p in self.problems if p.figure in ("lost", "credits_missing")}
        )


def _gross(document: dict[str, Any]) -> Decimal:
    return Decimal(str(document.get("grossAmount", "0")))


def _reference(document: dict[str, Any]) -> str:
    return str((document.get("references") or {}).get("other") or "")


def judge(
    expected: list[Expected],
    ledger: dict[str, Any],
    *,
    ingest_status: dict[str, str] | None = None,
    parked: dict[str, list[dict[str, Any]]] | None = None,
) -> Verdict:
    ingest_status = ingest_status or {}
    verdict = Verdict(orders=len(expected))
    booked_by_ref: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for document in ledger.get("booked_invoices", []):
        booked_by_ref[_reference(document)].append(document)
    ours = {exp.order_key() for exp in expected}

    for exp in expected:
        _judge_order(verdict, exp, booked_by_ref, ingest_status.get(exp.order_key()))

    for draft in ledger.get("drafts", []):
        if _reference(draft).split(":refund:")[0].removesuffix(":cancel") in ours:
            verdict.stray_drafts += 1

    by_email = Counter(
        str(c.get("email") or "").casefold() for c in ledger.get("customers", []) if c.get("email")
    )
    verdict.duplicate_customers = sum(1 for n in by_email.values() if n > 1)

    for service, messages in sorted((parked or {}).items()):
        verdict.parked_by_service[service] = len(messages)
        verdict.parked += len(messages)
        for message in messages:
            verdict.problems.append(
                Problem(
                    str(message.get("order_key") or "?"),
                    "parked",
                    f"{service}: {message.get('type')} parked: {message.get('reason')}",
                )
            )
    return verdict


def _judge_order(
    verdict: Verdict,
    exp: Expected,
    booked_by_ref: dict[str, list[dict[str, Any]]],
    status: str | None,
) -> None:
    key = exp.order_key()

    def problem(figure: str, detail: str) -> None:
        setattr(verdict, figure, getattr(verdict, figure) + 1)
        verdict.problems.append(Problem(key, figure, detail))

    invoices = [d for d in booked_by_ref.get(key, []) if _gross(d) >= 0]
    credits = {
        ref: docs for ref, docs in booked_by_ref.items() if ref.startswith(f"{key}:") and docs
    }
    numbers = [d.get("bookedInvoiceNumber") for d in invoices]
    if len(invoices) > 1:
        problem("duplicated", f"{len(invoices)} booked invoices: {numbers}")
    for ref, docs in sorted(credits.items()):
        if len(docs) > 1:
            numbers_here = [d.get("bookedInvoiceNumber") for d in docs]
            problem("duplicated", f"{len(docs)} credit notes for {ref}: {numbers_here}")

    if not invoices:
        if credits:
            problem("wrong_totals", f"credit notes {sorted(credits)} but no booked invoice")
        if exp.cancelled:
            verdict.cancelled_unbooked += 1
        else:
            problem("lost", f"no booked invoice; ingest status {status or 'unknown'}")
        return

    verdict.booked += 1
    if status is not None and status not in _BOOKED_OR_LATER:
        verdict.status_behind += 1
    invoice = invoices[0]
    gross = _gross(invoice)
    if abs(gross - exp.total) > TOLERANCE:
        problem(
            "wrong_totals",
            f"invoice {invoice.get('bookedInvoiceNumber')} gross {gross}, shop total {exp.total}",
        )
    # Every booked credit note counts, duplicates too: that is what the books say.
    credited = sum((-_gross(d) for docs in credits.values() for d in docs), Decimal(0))
    expected_refs = {f"{key}:refund:{rid}" for rid in exp.refunds}
    if exp.cancelled:
        expected_refs.add(f"{key}:cancel")
    for ref in sorted(set(credits) - expected_refs):
        problem("wrong_totals", f"credit note {ref} for something the shop did not do")
    if credited > gross + TOLERANCE:
        problem("over_credited", f"credited {credited} of invoice gross {gross}")
        return
    if exp.cancelled:
        # The cancellation credits whatever the refunds left; together: the whole invoice.
        if credited < gross - TOLERANCE:
            problem(
                "credits_missing",
                f"cancelled, but only {credited} of {gross} credited ({sorted(credits)})",
            )
        return
    for rid, amount in sorted(exp.refunds.items()):
        ref = f"{key}:refund:{rid}"
        if ref not in credits:
            problem("credits_missing", f"no credit note for refund {rid} ({amount})")
        elif abs(-_gross(credits[ref][0]) - amount) > TOLERANCE:
            problem(
                "wrong_totals",
                f"credit note for refund {rid}: {-_gross(credits[ref][0])}, refunded {amount}",
            )
