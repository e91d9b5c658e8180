"""Refunds and cancellations become credit notes: booked once each, never crediting more than
the invoice held.

Each goes through the ledger port (`Ledger.make_document` with `kind="credit_note"` and the
invoice it credits, as we recorded it), exactly once like the invoice (book.py). In e-conomic
a credit note is an invoice with negative quantities, booked like any other (docs: "a credit
note has negative amounts, and there is no type field"), to the original invoice's customer,
with its recipient, layout and payment terms; in QuickBooks a CreditMemo. Its reference is
`<order key>:refund:<refund id>` or `<order key>:cancel`, which is how a lost reply is found
again. Lines are given with positive quantities; the ledger's adapter makes them credit.

In a ledger with drafts the over-credit check runs once the draft exists, before it is booked,
counting credit notes in flight (another message's draft that a retry would book); a ledger
without drafts (QuickBooks) is checked before the document is made, on the planned amounts at
the invoice's VAT rate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from lb_common.db import utcnow
from lb_common.errors import Contention, PermanentError
from lb_common.events import (
    BookedLine,
    CreditNoteBooked,
    OrderCancelled,
    OrderRefunded,
    Refund,
)
from lb_common.failpoints import failpoint
from lb_common.money import ZERO, round_2
from lb_common.unit_of_work import UnitOfWork
from lb_connectors.ledger import (
    DocumentLine,
    DocumentPlan,
    DocumentRequest,
    Ledger,
    LedgerDocument,
    Resume,
)
from lb_connectors.ledger.registry import ledger_kind
from lb_connectors.ledgers import LedgerDirectory
from lb_invoicing import store
from lb_invoicing.book import load_settings
from lb_invoicing.lines import PlannedLine, product_for
from lb_invoicing.order_lease import OrderLeases
from lb_invoicing.policy import InvoiceSettings
from lb_invoicing.store import CreditNoteLink, InvoiceLink

LineBuilder = Callable[[LedgerDocument, InvoiceLink, InvoiceSettings], list[PlannedLine]]


@dataclass(frozen=True)
class CreditJob:
    uow: UnitOfWork
    order_key: str
    reference: str
    what: str  # for people: "refund 123", "the cancellation"
    ledger: Ledger
    own: bool = True  # this message's credit note (False: another one it settles on the way)

    @property
    def connection(self) -> str:
        return self.uow.message.connection

    @property
    def label(self) -> str:
        """The ledger's name for people ("e-conomic")."""
        return ledger_kind(self.ledger.kind).label


async def handle_order_refunded(
    event: OrderRefunded, uow: UnitOfWork, *, ledgers: LedgerDirectory, orders: OrderLeases
) -> None:
    job = CreditJob(
        uow,
        event.order_key,
        f"{event.order_key}:refund:{event.refund.refund_id}",
        f"refund {event.refund.refund_id}",
        ledgers.ledger(uow.message.connection),
    )

    def lines(
        invoice: LedgerDocument, link: InvoiceLink, settings: InvoiceSettings
    ) -> list[PlannedLine]:
        return refund_lines(event.refund, invoice, link.taxes_included, settings, job.label)

    await orders.run_alone(job.order_key, job.what, lambda: _credit(job, lines))


async def handle_order_cancelled(
    event: OrderCancelled, uow: UnitOfWork, *, ledgers: LedgerDirectory, orders: OrderLeases
) -> None:
    job = CreditJob(
        uow,
        event.order_key,
        cancel_reference(event.order_key),
        "the cancellation",
        ledgers.ledger(uow.message.connection),
    )

    async def cancel() -> None:
        # Under the order's lease: refunds not booked yet become part of the cancellation, and
        # a credit note booked just before counts.
        await _absorb_unbooked_refunds(job)
        credited = await _credited_quantities(job, event.order_key)

        def lines(
            invoice: LedgerDocument, link: InvoiceLink, settings: InvoiceSettings
        ) -> list[PlannedLine]:
            return remaining_lines(invoice, credited)

        await _credit(job, lines)

    await orders.run_alone(job.order_key, job.what, cancel)


async def _credit(job: CreditJob, build: LineBuilder) -> None:
    settings = await load_settings(job.uow, job.connection)
    async with job.uow.session() as session:
        invoice_link = await session.get(InvoiceLink, job.order_key)
        credit_link = await session.get(CreditNoteLink, job.reference)
    if not settings.credit_notes:
        await _finish_without_document(job, "Credit notes are off for this connection: not made.")
        return
    if invoice_link is None or invoice_link.step != store.BOOKED or invoice_link.document is None:
        raise Contention(
            f"The invoice for this order is not booked yet; the credit note for {job.what} waits for it."
        )
    if credit_link is not None and credit_link.step == store.BOOKED:
        await _finish_without_document(
            job, f"Credit note {credit_link.booked_invoice_number} for {job.what} already booked."
        )
        return
    invoice = await job.ledger.recorded_document(invoice_link.document)
    if job.reference != cancel_reference(job.order_key) and (
        (credit_link is not None and credit_link.step == store.COVERED)
        or await _cancellation_started(job)
    ):
        # The cancellation credits everything the booked credit notes left, this refund's money
        # included: a credit note for it as well would credit twice.
        if await _cover_refund(job, credit_link, invoice, settings.tolerance):
            await _finish_without_document(
                job,
                f"{job.what.capitalize()} is covered by {await _cancellation_note(job)}, which "
                "credits everything the invoice still held: nothing more to credit.",
            )
        return
    # An intent from an earlier attempt: what it did in the ledger is unknown, look it up. A
    # first attempt sent nothing before its intent was committed: nothing to find.
    earlier_attempt = credit_link is not None
    if credit_link is None:
        async with job.uow.transaction() as session:
            credit_link = CreditNoteLink(
                reference=job.reference,
                order_key=job.order_key,
                connection=job.connection,
                step=store.INTENT,
            )
            session.add(credit_link)
    failpoint("invoicing.creditnote_after_intent")
    made_now: list[str] = []  # planned or drafted in this attempt
    # A credit note goes the way its invoice went: by EAN when the invoice was addressed to an
    # EAN location (sent as an e-invoice) and the connection sends e-invoices.
    send_by: Literal["EAN"] | None = "EAN" if settings.ean_einvoice and invoice.buyer_ean else None

    async def request() -> DocumentRequest:
        """Only when nothing of an earlier attempt is in the ledger."""
        lines = build(invoice, invoice_link, settings)
        if not lines:
            raise _NothingToCredit
        made_now.append("planned")
        if not job.ledger.has_drafts:
            # No draft to check before booking: check what is planned, at the invoice's rate.
            net = sum((line.quantity * line.unit_net_price for line in lines), ZERO)
            estimate = round_2(abs(net) * (1 + _vat_rate(invoice)))
            await _check_not_over_credited(job, invoice, estimate, None, settings)
        today = utcnow().date()
        planned = DocumentRequest(
            kind="credit_note",
            reference=job.reference,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            date=today,
            due_date=today,
            # Credited as positive quantities; the adapter makes them the ledger's credit.
            lines=tuple(
                DocumentLine(
                    item=line.product_number,
                    description=line.description,
                    quantity=-line.quantity,
                    unit_net_price=line.unit_net_price,
                )
                for line in lines
            ),
            heading=f"Credit note: {job.what}",
            notes=f"Credits invoice {invoice.number}",
            send_by=send_by,
            credits=invoice.id,
            credited=invoice,
            options=dict(settings.ledger_options),
        )
        return planned

    async def drafted(draft: LedgerDocument) -> None:
        made_now.append("drafted")
        async with job.uow.transaction() as session:
            stored = await session.get(CreditNoteLink, job.reference)
            assert stored is not None
            stored.step = store.DRAFTED
            stored.draft_invoice_number = draft.id
            session.add(stored)
        await _check_not_over_credited(job, invoice, abs(draft.gross_amount), draft, settings)

    try:
        booked = await job.ledger.make_document(
            DocumentPlan(job.reference, request, kind="credit_note", send_by=send_by),
            resume=Resume(
                earlier_attempt=earlier_attempt, draft_id=credit_link.draft_invoice_number
            ),
            on_draft=drafted,
        )
    except _NothingToCredit:
        await _finish_without_document(job, f"Nothing left to credit for {job.what}.")
        return
    if made_now:  # booked just now, not found booked
        failpoint("invoicing.creditnote_after_booked")
    await _record(job, booked, invoice, settings.tolerance)


class _NothingToCredit(Exception):
    """An earlier attempt left nothing in the ledger, and nothing is left to credit."""


def cancel_reference(order_key: str) -> str:
    return f"{order_key}:cancel"


async def _cancellation_note(job: CreditJob) -> str:
    async with job.uow.session() as session:
        link = await session.get(CreditNoteLink, cancel_reference(job.order_key))
    if link is not None and link.booked_invoice_number is not None:
        return f"credit note {link.booked_invoice_number} for the cancellation"
    return "the credit note for the cancellation (being made)"


async def _cancellation_started(job: CreditJob) -> bool:
    """Whether the order's cancellation got as far as its intent: from then on it credits
    whatever the booked credit notes leave (it took over the unbooked refunds first)."""
    async with job.uow.session() as session:
        return await session.get(CreditNoteLink, cancel_reference(job.order_key)) is not None


async def _absorb_unbooked_refunds(job: CreditJob) -> None:
    """Before a cancellation works out what is left to credit: each refund whose credit note is
    not booked becomes part of the cancellation (its draft, ours and unbooked, is deleted), so
    a refund and a cancellation in flight at once never wait on each other's draft nor credit
    twice. One that was booked after all (a lost reply) is recorded and counts as credited."""
    async with job.uow.session() as session:
        invoice_link = await session.get(InvoiceLink, job.order_key)
        pending = [
            n for n in await store.credit_notes_of(session, job.order_key)
            if n.reference != job.reference and n.step not in (store.BOOKED, store.COVERED)
        ]  # fmt: skip
    if not pending or invoice_link is None or invoice_link.document is None:
        return
    invoice = await job.ledger.recorded_document(invoice_link.document)
    settings = await load_settings(job.uow, job.connection)
    for link in pending:
        what = _what(link.reference, job.order_key)
        refund = CreditJob(job.uow, job.order_key, link.reference, what, job.ledger, own=False)
        await _cover_refund(refund, link, invoice, settings.tolerance)


async def _cover_refund(
    job: CreditJob, link: CreditNoteLink | None, invoice: LedgerDocument, tolerance: Decimal
) -> bool:
    """Mark a refund's credit note as covered by the cancellation, after making sure none of
    it is in the ledger: a booked one (a lost reply) is recorded instead and False returned;
    an unbooked draft is deleted."""
    if link is not None and link.step not in (store.COVERED, store.BOOKED):
        booked = await job.ledger.find_document(job.reference, kind="credit_note")
        if booked is not None:
            await _record(job, booked, invoice, tolerance)
            return False
        draft = await job.ledger.find_draft(
            job.reference, draft_id=link.draft_invoice_number, kind="credit_note"
        )
        if draft is not None:
            await job.ledger.delete_draft(draft.id)
    async with job.uow.transaction() as session:
        stored = await session.get(CreditNoteLink, job.reference)
        if stored is None:
            stored = CreditNoteLink(
                reference=job.reference, order_key=job.order_key, connection=job.connection,
                step=store.COVERED,
            )  # fmt: skip
        elif stored.step == store.BOOKED:
            return False
        stored.step, stored.updated_at = store.COVERED, utcnow()
        session.add(stored)
    return True


async def _check_not_over_credited(
    job: CreditJob,
    invoice: LedgerDocument,
    this: Decimal,
    draft: LedgerDocument | None,
    settings: InvoiceSettings,
) -> None:
    """Booked credit notes and those still in flight (another message's intent or draft, which
    a retry would book) count: together with this one (`this`, positive: the draft's gross, or
    what is planned where the ledger has no drafts) they may not exceed the invoice."""
    async with job.uow.session() as session:
        others = [
            n for n in await store.credit_notes_of(session, job.order_key)
            if n.reference != job.reference
        ]  # fmt: skip
    booked = sum(
        (abs(Decimal(n.gross_amount or 0)) for n in others if n.step == store.BOOKED), ZERO
    )
    in_flight = await _in_flight(
        job, [n for n in others if n.step not in (store.BOOKED, store.COVERED)]
    )
    credited = booked + sum((amount for _, amount in in_flight), ZERO)
    if credited + this > invoice.gross_amount + settings.tolerance:
        c = invoice.currency
        pending = "".join(f" ({c} {amount} of it in {which})" for which, amount in in_flight)
        left = (
            f"Draft credit note {draft.number} is left unbooked for a bookkeeper."
            if draft is not None
            else "Nothing was made."
        )
        raise PermanentError(
            f"Crediting {c} {this} for {job.what} would credit {c} {credited + this} in "
            f"all{pending}, more than invoice {invoice.number} held "
            f"({c} {invoice.gross_amount}). {left}"
        )


async def _in_flight(job: CreditJob, unbooked: list[CreditNoteLink]) -> list[tuple[str, Decimal]]:
    """What the order's other unfinished credit notes hold in the ledger: (which, amount).

    A draft counts: a retry of its message, or a bookkeeper, may book it. Looked up rather than
    taken from the link, since an attempt may have got further than its link says (a lost
    reply), and a draft deleted in the ledger no longer counts. One with nothing in the ledger
    yet is checked against this one by its own check when it gets there."""
    found: list[tuple[str, Decimal]] = []
    for link in unbooked:
        what = _what(link.reference, job.order_key)
        booked = await job.ledger.find_document(
            link.reference, kind="credit_note", with_lines=False
        )
        if booked is not None:
            which = f"credit note {booked.number} for {what}, booked in {job.label}"
            found.append((which, abs(booked.gross_amount)))
            continue
        draft = await job.ledger.find_draft(
            link.reference, draft_id=link.draft_invoice_number, kind="credit_note"
        )
        if draft is not None and draft.gross_amount:
            which = (
                f"draft credit note {draft.number} for {what}, not booked yet: "
                f"book or delete that draft in {job.label} first"
            )
            found.append((which, abs(draft.gross_amount)))
    return found


def _what(reference: str, order_key: str) -> str:
    """For people: "refund 123" or "the cancellation", from a credit note's reference."""
    kind, _, refund_id = reference.removeprefix(f"{order_key}:").partition(":")
    return f"refund {refund_id}" if kind == "refund" else "the cancellation"


def fully_credited(invoiced: Decimal, credited: Decimal, tolerance: Decimal) -> bool:
    """Whether credit notes of `credited` in all (positive) cancel an invoice of `invoiced`."""
    return credited >= invoiced - tolerance


async def _record(
    job: CreditJob, booked: LedgerDocument, invoice: LedgerDocument, tolerance: Decimal
) -> None:
    lines = tuple(
        BookedLine(sku=line.item, product_number=line.item, quantity=line.quantity)
        for line in booked.lines
        if line.item is not None
    )
    # Recording another message's credit note (a refund a cancellation found booked) is an
    # intermediate write: this message's own outcome is still to come.
    async with job.uow.commit() if job.own else job.uow.transaction() as session:
        earlier = [
            n for n in await store.booked_credit_notes(session, job.order_key)
            if n.reference != job.reference
        ]  # fmt: skip
        credited = sum((abs(Decimal(n.gross_amount or 0)) for n in earlier), ZERO) + abs(
            booked.gross_amount
        )
        link = await session.get(CreditNoteLink, job.reference)
        assert link is not None
        link.step = store.BOOKED
        link.booked_invoice_number = booked.id
        link.gross_amount = str(booked.gross_amount)
        link.customer_number = booked.customer_id
        link.currency = booked.currency
        link.invoice_date = booked.date
        link.document = booked.raw
        link.updated_at = utcnow()
        session.add(link)
        job.uow.emit(
            CreditNoteBooked(
                order_key=job.order_key,
                customer_number=booked.customer_id,
                booked_invoice_number=booked.id,
                currency=booked.currency,
                gross_amount=booked.gross_amount,
                lines=lines,
            ),
            order_key=job.order_key,
        )
        _progress(
            job,
            "creditnote.booked",
            f"Credit note {booked.number} booked for {job.what}: "
            f"{booked.currency} {booked.gross_amount}; {booked.currency} {credited} of invoice "
            f"{invoice.number}'s {invoice.gross_amount} credited in all.",
            {
                "booked_invoice_number": booked.id,
                "credited": str(credited),
                "invoiced": str(invoice.gross_amount),
                # ingest's order status: partly_credited, or credited when this is all of it.
                "fully_credited": fully_credited(invoice.gross_amount, credited, tolerance),
            },
        )


async def _finish_without_document(job: CreditJob, message: str) -> None:
    async with job.uow.commit():
        _progress(job, "creditnote.skipped", message, {})


def _progress(job: CreditJob, step: str, message: str, details: dict[str, object]) -> None:
    job.uow.progress(step, message, details, order_key=job.order_key)


# --- lines (pure) ---------------------------------------------------------------------------


def _vat_rate(invoice: LedgerDocument) -> Decimal:
    return invoice.vat_amount / invoice.net_amount if invoice.net_amount else ZERO


def _net_of(gross: Decimal, invoice: LedgerDocument) -> Decimal:
    return round_2(gross / (1 + _vat_rate(invoice)))


def refund_lines(
    refund: Refund,
    invoice: LedgerDocument,
    taxes_included: bool,
    settings: InvoiceSettings,
    ledger: str = "the ledger",
) -> list[PlannedLine]:
    """Negative lines for what the shop refunded, on the products the invoice used."""
    if refund.currency != invoice.currency:
        # An invoice in the buyer's currency (settings `amounts: presentment`) while the
        # platform's refund is in the shop's: its amounts cannot go on the credit note as is.
        raise PermanentError(
            f"Refund {refund.refund_id} is in {refund.currency}, but invoice "
            f"{invoice.number} is in {invoice.currency}. Credit it in {ledger} "
            "by hand (a cancellation credits the invoice's own lines and needs no conversion)."
        )
    invoiced = frozenset(line.item for line in invoice.lines if line.item is not None)
    lines: list[PlannedLine] = []
    for item in refund.lines:
        if item.quantity <= 0:
            continue
        product, _ = product_for(item.sku, item.title or item.line_id, settings, invoiced)
        net = item.subtotal - item.tax if taxes_included else item.subtotal
        lines.append(
            PlannedLine(
                product_number=product,
                description=f"Refund: {item.title}"[:2500],
                quantity=-item.quantity,
                unit_net_price=round_2(net / item.quantity),
                sku=item.sku,
            )
        )
    if refund.shipping > 0:
        lines.append(
            PlannedLine(
                settings.shipping_product,
                "Refund: shipping",
                Decimal(-1),
                _net_of(refund.shipping, invoice),
                None,
            )
        )
    amount_only = refund.adjustments if refund.lines or refund.shipping else refund.total
    if amount_only > 0:
        on_product = settings.refund_product or settings.default_product
        if on_product is None:
            raise PermanentError(
                f"Refund {refund.refund_id} of {refund.currency} {amount_only} has no lines to "
                "credit. Set a refund product in the invoicing settings, then replay."
            )
        lines.append(
            PlannedLine(on_product, "Refund", Decimal(-1), _net_of(amount_only, invoice), None)
        )
    return lines


def remaining_lines(invoice: LedgerDocument, credited: dict[str, Decimal]) -> list[PlannedLine]:
    """Negative lines for everything invoiced that is not credited yet (a cancellation)."""
    left = dict(credited)
    lines: list[PlannedLine] = []
    for line in invoice.lines:
        if line.item is None or not line.quantity:
            continue
        number = line.item
        already = min(left.get(number, ZERO), line.quantity)
        left[number] = left.get(number, ZERO) - already
        quantity = line.quantity - already
        if quantity > 0:
            lines.append(
                PlannedLine(
                    number,
                    f"Cancelled: {line.description or number}"[:2500],
                    -quantity,
                    line.unit_net_price or ZERO,
                    None,
                )
            )
    return lines


async def _credited_quantities(job: CreditJob, order_key: str) -> dict[str, Decimal]:
    async with job.uow.session() as session:
        notes = await store.booked_credit_notes(session, order_key)
    credited: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for note in notes:
        document = await job.ledger.recorded_document(note.document or {}, kind="credit_note")
        for line in document.lines:
            if line.item is not None and line.quantity:
                credited[line.item] += abs(line.quantity)
    return dict(credited)
