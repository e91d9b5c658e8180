"""The lookups that make a ledger document exist once, whatever was lost on the way.

Every document carries a unique reference in `references.other` (the order key for an invoice,
order key + refund id for a credit note). Before creating we look it up, when an earlier attempt
may have left one behind: its intent row was there before this attempt began (it crashed, or its
call failed without an answer). A first attempt skips the lookups: it commits its intent before
it sends anything, so nothing of it can be in the ledger yet, and two attempts at once cannot
both be first (the intent row's key is the reference). When booking fails because the draft is
gone, we look up the booked document before giving up.

A booked invoice found by the search is read again by its number: e-conomic's list leaves out
the lines (schema invoices.booked.get), and what follows a recovery needs them (the lines of
`invoice.booked` adjust stock; a cancellation credits them; a refund picks its products).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from lb_connectors.economic.client import EconomicClient
from lb_connectors.economic.errors import (
    EconomicNotFound,
    EconomicUnavailable,
    EconomicValidationError,
)
from lb_connectors.economic.models import BookedInvoice, DraftInvoice, DraftInvoiceCreate

log = logging.getLogger(__name__)


async def find_booked(
    client: EconomicClient, reference: str, *, with_lines: bool = True
) -> BookedInvoice | None:
    """The booked document made for `reference`, whole (with its lines) unless `with_lines` is
    off (the totals are enough: one call less)."""
    found = await client.find_booked_invoices(reference=reference)
    if len(found) > 1:
        log.error("the ledger holds %d booked documents for reference %s", len(found), reference)
    if not found:
        return None
    first = min(found, key=lambda b: b.booked_invoice_number)
    if not with_lines:
        return first
    whole = await client.get_booked_invoice(first.booked_invoice_number)
    if whole is None:  # booked invoices cannot be deleted; a 404 here is e-conomic's hiccup
        raise EconomicUnavailable(
            f"booked invoice {first.booked_invoice_number} was listed for {reference} but "
            "could not be read; trying again."
        )
    return whole


async def find_draft(
    client: EconomicClient, reference: str, known_number: int | None
) -> DraftInvoice | None:
    """The draft we made earlier: by the number we recorded, else by the reference."""
    if known_number is not None:
        draft = await client.get_draft_invoice(known_number)
        if draft is not None:
            return draft
    existing = await client.find_draft_invoices(reference=reference)
    if not existing:
        return None
    first = min(existing, key=lambda d: d.draft_invoice_number)
    # The list leaves out lines and totals; read it whole.
    return await client.get_draft_invoice(first.draft_invoice_number) or first


async def book_or_find(
    client: EconomicClient, draft: DraftInvoice, reference: str, *, send_by: str | None = None
) -> BookedInvoice:
    try:
        return await client.book_draft_invoice(
            draft.draft_invoice_number, idempotency_key=f"{reference}:book", send_by=send_by
        )
    except (EconomicNotFound, EconomicValidationError):
        # The draft is gone or refused: an earlier attempt may have booked it already.
        booked = await find_booked(client, reference)
        if booked is None:
            raise
        return booked


#: Builds a new draft when none was left behind: its body and Idempotency-Key, or None when
#: there is nothing to put on a document (a credit note with nothing left to credit).
#: Gives the draft's body, its idempotency key and the body as JSON (`jsoncodec.dumps` of
#: `to_json_body()`: written once, for the key's digest and the request), or None.
DraftBuilder = Callable[[], Awaitable[tuple[DraftInvoiceCreate, str, str] | None]]
#: Awaited once a draft exists, before it is booked: the draft, and whether it was made just
#: now (False: an earlier attempt left it). The caller records it durably here, and may raise
#: to leave it unbooked.
DraftSeen = Callable[[DraftInvoice, bool], Awaitable[None]]
#: Turns e-conomic's refusal into the error to raise (naming the shop's fields, say).
Refusal = Callable[[EconomicValidationError], BaseException]


def _as_is(exc: EconomicValidationError) -> BaseException:
    return exc


async def draft_and_book(
    client: EconomicClient,
    reference: str,
    *,
    earlier_attempt: bool,
    known_draft: int | None,
    build: DraftBuilder,
    on_draft: DraftSeen,
    book: bool = True,
    send_by: str | None = None,
    create_refused: Refusal = _as_is,
    booking_refused: Refusal = _as_is,
) -> DraftInvoice | BookedInvoice | None:
    """The document for `reference`, made once: the steps of the ledger port's exactly-once
    contract (docs/ledger-port.md) for e-conomic's draft → booked.

    A first attempt (`earlier_attempt` False) creates at once. Otherwise what the earlier one
    left is found first: the draft it recorded (`known_draft`; still there, it is not booked,
    and nothing else is looked up), else the booked document by the reference, else a draft
    by the reference (its creation's reply was lost). Returns the booked document, the draft
    when `book` is off, or None when `build` found nothing to make.
    """
    draft: DraftInvoice | None = None
    if earlier_attempt:
        if known_draft is not None:
            draft = await client.get_draft_invoice(known_draft)
        if draft is None:
            booked = await find_booked(client, reference)
            if booked is not None:
                return booked
            draft = await find_draft(client, reference, None)
    made = draft is None
    if draft is None:
        built = await build()
        if built is None:
            return None
        body, key, encoded = built
        try:
            draft = await client.create_draft_invoice(body, idempotency_key=key, encoded=encoded)
        except EconomicValidationError as exc:
            raise create_refused(exc) from exc
    await on_draft(draft, made)
    if not book:
        return draft
    try:
        return await book_or_find(client, draft, reference, send_by=send_by)
    except EconomicValidationError as exc:
        raise booking_refused(exc) from exc
