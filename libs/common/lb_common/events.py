"""Versioned event payloads exchanged between services. Money is Decimal, serialised as a string."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from lb_common.envelope import Event
from lb_common.orders import CanonicalOrder


def _id_from_number(value: object) -> object:
    """Ledger ids were e-conomic's numbers (JSON numbers) before the ledger port made them
    strings; a message still queued from then is read with the number as its decimal text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


#: A ledger's id of a customer or a document: text (e-conomic "1001", QuickBooks "58"). Read
#: from a JSON string, or from a number (messages from before the port).
LedgerId = Annotated[str, BeforeValidator(_id_from_number)]


class OrderReady(Event):
    """ingest → customers: the order met the connection's transfer trigger."""

    TYPE = "order.ready"
    order: CanonicalOrder


class MatchEvidence(BaseModel):
    """The buyer's detail that tied them to the ledger customer: the customers service found
    the customer by it, created the customer with it, or follows a link made that way."""

    model_config = ConfigDict(frozen=True)
    kind: str  # the match key: email, cvr, ean, phone, name, customer_number, custom_field
    value: str  # normalised as the customers service compares it ('jane@example.com')


class ResolvedCustomer(BaseModel):
    """The ledger customer as the customers service just read or wrote it: what a document
    needs from it, so invoicing does not read the customer again. `read_at` says how fresh it
    is; invoicing reads the customer itself when it is older than its cache allows.

    Neutral, like the ledger port's `LedgerCustomer`: `group`, `payment_terms`, `tax_zone` and
    `layout` are the ledger's ids as text (e-conomic's numbers), `None` where a ledger has no
    such thing (QuickBooks has no customer groups)."""

    model_config = ConfigDict(frozen=True)
    name: str
    currency: str | None = None
    group: str | None = None
    payment_terms: str | None = None
    tax_zone: str | None = None
    layout: str | None = None
    email: str | None = None
    vat_id: str | None = None  # e-conomic: the CVR (corporateIdentificationNumber)
    ean: str | None = None
    address: str | None = None
    zip: str | None = None
    city: str | None = None
    country: str | None = None
    read_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_economic_names(cls, data: Any) -> Any:
        """A message queued before the port named these fields as e-conomic does."""
        if not isinstance(data, dict):
            return data
        renamed = dict(data)
        for old, new in _ECONOMIC_CUSTOMER_NAMES.items():
            if old in renamed:
                value = renamed.pop(old)
                renamed.setdefault(new, None if value is None else str(value))
        return renamed


_ECONOMIC_CUSTOMER_NAMES = {
    "group_number": "group",
    "payment_terms_number": "payment_terms",
    "vat_zone_number": "tax_zone",
    "layout_number": "layout",
    "corporate_identification_number": "vat_id",
}


class CustomerResolved(Event):
    """customers → invoicing: the ledger customer the order will be invoiced to."""

    TYPE = "customer.resolved"
    order: CanonicalOrder
    customer_number: LedgerId
    created: bool = False
    # None: the default customer, or a link a person set; nothing to check the customer by.
    matched_on: MatchEvidence | None = None
    # None: not read by customers this time (a known link); invoicing reads it (cached).
    customer: ResolvedCustomer | None = None


class BookedLine(BaseModel):
    model_config = ConfigDict(frozen=True)
    sku: str | None
    product_number: str
    quantity: Decimal


class InvoiceBooked(Event):
    """invoicing → inventory (and anyone): the order's invoice is booked in the ledger."""

    TYPE = "invoice.booked"
    order_key: str
    customer_number: LedgerId
    draft_invoice_number: LedgerId | None = None
    booked_invoice_number: LedgerId
    currency: str
    net_amount: Decimal
    gross_amount: Decimal
    lines: tuple[BookedLine, ...] = ()


class CreditNoteBooked(Event):
    TYPE = "creditnote.booked"
    order_key: str
    customer_number: LedgerId
    booked_invoice_number: LedgerId
    currency: str
    gross_amount: Decimal
    lines: tuple[BookedLine, ...] = ()


class RefundLine(BaseModel):
    model_config = ConfigDict(frozen=True)
    line_id: str
    sku: str | None = None
    title: str = ""
    quantity: Decimal
    subtotal: Decimal
    tax: Decimal = Decimal("0")
    restock: bool = False


class Refund(BaseModel):
    model_config = ConfigDict(frozen=True)
    refund_id: str
    created_at: str
    currency: str
    lines: tuple[RefundLine, ...] = ()
    shipping: Decimal = Decimal("0")
    adjustments: Decimal = Decimal("0")  # amount-only refunds, positive = refunded to buyer
    total: Decimal
    note: str | None = None


class OrderRefunded(Event):
    TYPE = "order.refunded"
    order_key: str
    refund: Refund


class OrderCancelled(Event):
    TYPE = "order.cancelled"
    order_key: str
    reason: str | None = None


class ProgressStep(BaseModel):
    """A further step of an `OrderProgress`: reported in the same transaction, after its own."""

    model_config = ConfigDict(frozen=True)
    step: str
    message: str
    details: dict[str, Any]
    at: datetime  # when it was reported (the envelope's `occurred_at` is the first step's)


class OrderProgress(Event):
    """Any service → ingest: steps on the order's timeline, its own, then `more` (the further
    steps one transaction reported for the order, in order, each with its time)."""

    # A message from before `more` existed is one step; ingest reads both shapes.

    TYPE = "order.progress"
    service: str
    step: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    more: tuple[ProgressStep, ...] = ()


class OrderFailed(Event):
    """Any service → ingest: the order stopped; `reason` is written for a bookkeeper."""

    TYPE = "order.failed"
    service: str
    step: str
    reason: str
    detail: str | None = None
    parked: bool = True
    kind: Literal["permanent", "transient_exhausted"] = "permanent"


class HeldLine(BaseModel):
    model_config = ConfigDict(frozen=True)
    sku: str
    quantity: Decimal


class OrderUnitsHeld(Event):
    """ingest → inventory: the units of an accepted order, per SKU, that the shop has taken from
    its stock and the ledger has not (that happens when the invoice is booked). Sent with each
    new version of the order until it is booked; `released` when it will not be booked here
    (cancelled, or skipped by the connection's rules). Newer `version`s replace older ones."""

    TYPE = "order.units_held"
    order_key: str
    version: datetime
    lines: tuple[HeldLine, ...] = ()
    released: bool = False
    reason: Literal["cancelled", "skipped"] | None = None  # why it was released


class ShopStockReported(Event):
    """ingest → inventory: the shop says a stock level changed (Shopify inventory_levels/update)."""

    TYPE = "stock.shop_reported"
    inventory_item_id: str
    location_id: str
    available: int | None
    updated_at: datetime


class ConnectionChanged(Event):
    """ingest → every service: a connection was created, changed, disabled or deleted (and, at
    ingest's start and every few minutes, every connection again so a service catches up).

    `sealed` holds what the other services need to reach the shop and the ledger (shop Admin
    API access, ledger credentials) sealed with LEDGERBRIDGE_SECRETS_KEY (lb_common/sealing.py):
    never clear text. None: the connection uses the ledger and shop of the environment.
    Webhook secrets stay in ingest. A copy keeps the highest `revision` it has seen."""

    TYPE = "connection.changed"
    name: str
    revision: int
    platform: str
    enabled: bool
    deleted: bool = False
    ledger_kind: str | None = None
    sealed: str | None = None
