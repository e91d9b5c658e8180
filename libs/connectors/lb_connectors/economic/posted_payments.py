"""A payment registered once, even when the journal's reply is lost.

The voucher POST has no guard in e-conomic we can rely on: whether restapi honours an
Idempotency-Key on POST is unconfirmed, and a voucher has no reference field to search by. So:

- the payment's text ends with the order key in brackets (`payment_text`);
- the link records that a post was attempted before the call (`payment_attempted`);
- an attempt that finds that mark (the one before it crashed, or its reply was lost) looks the
  journal's entries up by the text first (`find_posted`) and takes the entry it finds.

Booking the journal moves its entries into the accounting year (`/accounting-years/{y}/entries`),
out of this lookup: a bookkeeper who books the journal between a lost reply and its retry
(seconds, at most the retry schedule's minutes) is the one case it does not cover.
"""

from __future__ import annotations

from lb_connectors.economic.client import EconomicClient
from lb_connectors.economic.filters import Field
from lb_connectors.economic.models import JournalEntry

TEXT_LIMIT = 250  # a journal entry's text (schema journals.journalNumber.vouchers.post)


def order_tag(order_key: str) -> str:
    return f"[{order_key}]"


def payment_text(order_name: str, gateways: list[str] | tuple[str, ...], order_key: str) -> str:
    """ "Webshop order #1001 paid via stripe [shopify:shop:1001]": for people first, then the
    order key the lookup finds it by (kept whole; the readable part is cut if need be)."""
    gateway = ", ".join(gateways) or "an unnamed gateway"
    tag = order_tag(order_key)
    readable = f"Webshop order {order_name} paid via {gateway}"
    return f"{readable[: max(0, TEXT_LIMIT - len(tag) - 1)]} {tag}"[-TEXT_LIMIT:]


async def find_posted(
    client: EconomicClient, journal: int, order_key: str, booked_invoice_number: int
) -> JournalEntry | None:
    """The payment entry an earlier attempt posted for this order's invoice, if the journal
    holds one. The filter is a contains-match (e-conomic's `$like` without `*`), so the text
    and the invoice are checked here as well."""
    tag = order_tag(order_key)
    entries = await client.find_journal_entries(journal, Field("text").like(tag))
    mine = [
        e
        for e in entries
        if e.text is not None
        and e.text.endswith(tag)
        and e.customer_invoice == booked_invoice_number
        and e.voucher is not None
    ]
    return min(mine, key=lambda e: e.journal_entry_number) if mine else None
