"""Before an invoice goes out as an e-invoice (OIOUBL by EAN through e-conomic): the
preconditions e-conomic sets, checked before anything is drafted, so a bookkeeper reads what to
fix instead of e-conomic's refusal after a draft was made.

e-conomic sends by EAN only with a CVR number in the agreement's settings, a valid EAN on the
customer, and a contact person on the customer and on the invoice (SLATE `_invoices.md` "EAN";
docs/sandbox.md). The contact person is ours to make (book.py `_reference_person`); the CVR and
the customer's EAN are the bookkeeper's (customers writes the EAN on customers it creates).
"""

from __future__ import annotations

import time
import weakref

from lb_common.errors import PermanentError
from lb_connectors.economic.client import EconomicClient
from lb_connectors.economic.models import BookedInvoice, Customer
from lb_connectors.economic.setup_models import SelfInfo

COMPANY_SECONDS = 3600.0  # the agreement's CVR changes by hand, rarely

_COMPANY: weakref.WeakKeyDictionary[EconomicClient, tuple[float, SelfInfo]] = (
    weakref.WeakKeyDictionary()
)


def ean_problems(
    agreement_cvr: str | None, customer: Customer, ean: str, order_name: str
) -> list[str]:
    """What stops e-conomic from sending this order's invoice by EAN `ean`, in a bookkeeper's
    words (empty: nothing)."""
    problems = []
    if not (agreement_cvr or "").strip():
        problems.append(
            "The e-conomic agreement has no CVR number (Settings > Company), and e-conomic "
            "sends e-invoices by EAN only with one. Enter the company's CVR number in e-conomic"
        )
    number = customer.customer_number
    if not customer.ean:
        problems.append(
            f"e-conomic customer {number} ('{customer.name}') has no EAN number, and e-conomic "
            f"sends an e-invoice only to a customer with one. Enter EAN {ean} on customer "
            f'{number} in e-conomic (or let the customers service write it: add "ean" to '
            "its update_fields)"
        )
    elif customer.ean != ean:
        problems.append(
            f"e-conomic customer {number} ('{customer.name}') has EAN {customer.ean}, but order "
            f"{order_name} is for EAN {ean}. Correct the EAN on the customer or the order"
        )
    return problems


async def agreement_cvr(client: EconomicClient) -> str | None:
    """The agreement's CVR number (GET /self), read at most once an hour per agreement."""
    kept = _COMPANY.get(client)
    if kept is None or kept[0] <= time.monotonic():
        kept = (time.monotonic() + COMPANY_SECONDS, await client.get_self())
        _COMPANY[client] = kept
    company = kept[1].company
    return company.company_identification_number if company else None


async def check_ean_preconditions(
    client: EconomicClient, customer: Customer, ean: str, order_name: str
) -> None:
    problems = ean_problems(await agreement_cvr(client), customer, ean, order_name)
    if problems:
        _COMPANY.pop(client, None)  # read again on the replay, after the fix
        raise PermanentError(
            f"Order {order_name} is to be sent as an e-invoice (EAN), but: "
            + "; ".join(problems)
            + ". Nothing was drafted; replay the order after the fix (or switch ean_einvoice "
            "off to send it as an ordinary invoice)."
        )


def credit_send_by(invoice: BookedInvoice, *, ean_einvoice: bool) -> str | None:
    """A credit note goes the way its invoice went: by EAN when the invoice's recipient has an
    EAN number (it was sent as an e-invoice) and the connection sends e-invoices. The recipient,
    its contact person included, is the invoice's (documents.credit_note_body)."""
    recipient = invoice.recipient
    if ean_einvoice and recipient is not None and recipient.ean:
        return "EAN"
    return None
