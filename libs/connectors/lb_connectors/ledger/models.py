"""Neutral models of the ledger port: what the services say and hear, in no ledger's terms.

Ids are strings (`id`): e-conomic's customer and invoice numbers, QuickBooks' Ids, a GUID
elsewhere. The number a bookkeeper sees in the ledger is kept apart (`number`) for display.
Money is Decimal; dates are dates, times timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lb_connectors.ledger.errors import ShopField

DocumentKind = Literal["invoice", "credit_note"]
DocumentState = Literal["draft", "booked"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Choice(_Model):
    """One entry of the ledger's reference data (a customer group, a VAT zone, a layout...)."""

    id: str
    name: str
    # Kind-specific facts a settings screen may show ("currency": "DKK", "account": "5820").
    facts: dict[str, str] = Field(default_factory=dict)


class ReferenceData(_Model):
    """What a settings screen offers for one connection's ledger. A list a ledger does not have
    is empty (QuickBooks has no layouts; e-conomic has no tax codes per line)."""

    customer_groups: tuple[Choice, ...] = ()
    payment_terms: tuple[Choice, ...] = ()
    tax_zones: tuple[Choice, ...] = ()  # e-conomic VAT zones; QuickBooks tax codes
    layouts: tuple[Choice, ...] = ()
    currencies: tuple[Choice, ...] = ()
    clearing_accounts: tuple[Choice, ...] = ()  # where up-front payments may be registered
    journals: tuple[Choice, ...] = ()
    # The ledger's items (products), read only when asked for: `id` is what `DocumentLine.item`
    # takes (e-conomic's product number, QuickBooks' SKU). `more_items`: there were more.
    items: tuple[Choice, ...] = ()
    more_items: bool = False


class MatchKey(_Model):
    """The buyer's detail a customer is found by: kind email, cvr (VAT id), ean, phone, name,
    customer_number or custom_field; `value` normalised as the customers service compares it."""

    kind: str
    value: str
    # Optional hints an adapter may use to search (each ledger ignores what it cannot use):
    country: str | None = None  # the buyer's country, to read phone numbers without a prefix
    written: str | None = None  # the value as the shop wrote it (a name, before normalising)
    field: str | None = None  # custom_field: the ledger field that holds the value


class PostalAddress(_Model):
    name: str | None = None
    lines: tuple[str, ...] = ()
    zip: str | None = None
    city: str | None = None
    country: str | None = None  # ISO 3166 alpha-2 where known


class CustomerDetails(_Model):
    """A customer to create (or to update from an order), in neutral terms. `options` carries
    the connection's kind-specific placements (e.g. e-conomic's group, terms, VAT zone and
    layout numbers; QuickBooks' name field), as configured in its settings."""

    name: str
    currency: str
    email: str | None = None
    phone: str | None = None
    vat_id: str | None = None
    ean: str | None = None
    billing: PostalAddress | None = None
    shipping: PostalAddress | None = None
    number: str | None = None  # the number the new customer gets; None: the ledger numbers it
    options: dict[str, str] = Field(default_factory=dict)


class LedgerCustomer(_Model):
    """A customer as the ledger holds it, with what a document needs from it."""

    id: str
    number: str  # the ledger's number, for display
    name: str
    currency: str | None = None
    email: str | None = None
    phones: tuple[str, ...] = ()  # as the ledger holds them (main first)
    vat_id: str | None = None
    ean: str | None = None
    billing: PostalAddress | None = None
    group: str | None = None
    payment_terms: str | None = None
    tax_zone: str | None = None
    layout: str | None = None
    barred: bool = False
    read_at: dt.datetime


class CustomerOutcome(_Model):
    customer: LedgerCustomer
    created: bool
    matched_on: MatchKey | None  # None when created, or found by no key


class CustomerChanges(_Model):
    """What an order changes on a known customer: only the fields set here are written (None:
    left as the ledger has it). `shipping` adds a delivery address the customer lacks."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    vat_id: str | None = None
    ean: str | None = None
    billing: PostalAddress | None = None
    shipping: PostalAddress | None = None
    group: str | None = None
    payment_terms: str | None = None
    tax_zone: str | None = None


class CustomerUpdate(_Model):
    """The customer after `update_customer`, and what was done, for the order's timeline
    (empty: nothing needed writing)."""

    customer: LedgerCustomer
    done: tuple[str, ...] = ()


class DocumentLine(_Model):
    """A line to put on a document. `item` is the ledger's product/item id (the SKU where the
    ledger keys items by SKU); `tax_code` a ledger-kind code chosen by VAT routing, if any."""

    item: str | None
    description: str
    quantity: Decimal
    unit_net_price: Decimal
    discount_percentage: Decimal | None = None
    tax_code: str | None = None


class ContactPerson(_Model):
    name: str
    email: str | None = None


class DocumentRequest(_Model):
    """The document for one order (or one refund), made exactly once per `reference`.

    `reference` is ours: the order key for an invoice, order key + refund id for a credit note.
    The adapter writes it where the ledger can search by it and derives every idempotency key
    from it. `book` False leaves a draft for a bookkeeper where the ledger has drafts.
    """

    kind: DocumentKind = "invoice"
    reference: str
    customer_id: str
    currency: str
    date: dt.date
    lines: tuple[DocumentLine, ...]
    book: bool = True
    due_date: dt.date | None = None
    bill_to: PostalAddress | None = None  # the buyer as printed on the document
    ship_to: PostalAddress | None = None
    buyer_ean: str | None = None  # a public buyer's EAN location (e-invoices)
    heading: str | None = None
    notes: str | None = None
    send_by: Literal["EAN"] | None = None  # an e-invoice channel, where the ledger has one
    credits: str | None = None  # a credit note: the id of the document it credits
    # A credit note: the document it credits as we recorded it, so the adapter copies what
    # the ledger wants from it (e-conomic: recipient, layout, terms) without reading it again.
    credited: LedgerDocument | None = None
    options: dict[str, str] = Field(default_factory=dict)  # layout, terms...: kind-specific
    # For messages: the order the document is for, as people know it ("#1001").
    order_name: str | None = None
    # The buyer's reference person (e-conomic puts one on an EAN e-invoice; others ignore it).
    contact: ContactPerson | None = None
    # Where values filled from the shop came from, by neutral path ("bill_to.zip",
    # "ship_to.city", "buyer_ean"): a refusal of one names the shop's field.
    shop_fields: dict[str, ShopField] = Field(default_factory=dict)
    # Facts the adapter answered from its cache that were read before this time (the attempt's
    # start): a refusal naming one drops it and is retried (`CachedDataRefused`), where a
    # refusal of a fact read just now is final.
    read_before: dt.datetime | None = None
    # The tax the shop charged on what the document covers (None: not said). A ledger that
    # computes tax from codes on the lines and has no draft to check first refuses a request
    # that would lose it, instead of booking the net as the total.
    tax: Decimal | None = None


class LedgerItem(_Model):
    """A product/item the ledger has, with what planning needs: `group` is the ledger's product
    group (e-conomic; None where a ledger has none), `barred` an item not to be sold."""

    id: str
    name: str | None = None
    group: str | None = None
    barred: bool = False


class ItemDetails(_Model):
    """An item to create (invoicing's `unknown_product: create`)."""

    id: str
    name: str
    unit_net_price: Decimal
    group: str | None = None


class ItemTaxRate(_Model):
    """The VAT rate the ledger applies to an item on a document (a fraction, 0.25), and why,
    in a bookkeeper's words; `rate` None where it cannot be worked out."""

    item: str
    rate: Decimal | None
    explanation: str


class BookedDocumentLine(_Model):
    item: str | None
    quantity: Decimal
    net_amount: Decimal | None = None
    description: str | None = None
    unit_net_price: Decimal | None = None  # before any line discount, as the line was sent


class LedgerDocument(_Model):
    """A document as the ledger holds it. `raw` is the ledger's own body, kept on our record
    for display and for a later credit; never parsed outside the adapter."""

    kind: DocumentKind
    id: str
    number: str  # for display
    state: DocumentState
    reference: str | None
    customer_id: str
    currency: str
    date: dt.date
    net_amount: Decimal
    vat_amount: Decimal
    gross_amount: Decimal
    lines: tuple[BookedDocumentLine, ...] = ()
    raw: dict[str, Any] = Field(default_factory=dict)
    # The EAN location it was addressed to (sent as an e-invoice where the ledger does that).
    buyer_ean: str | None = None


class Resume(_Model):
    """What our records say about an earlier attempt at the same reference.

    `earlier_attempt` False means the caller committed its intent before this call and nothing
    was sent before: the adapter must not look anything up (a first attempt costs no lookup).
    `draft_id` is the draft the caller recorded through `on_draft`, if any.
    """

    earlier_attempt: bool = False
    draft_id: str | None = None


class PaymentRequest(_Model):
    """A payment received up front, registered against a booked document on a clearing account
    (e-conomic: a customer payment voucher against a contra account in a journal; QuickBooks:
    a Payment deposited to Undeposited Funds)."""

    reference: str  # ours: order key (+ the settings' account, so a fixed setting is new)
    document_id: str
    customer_id: str
    amount: Decimal  # positive
    currency: str
    date: dt.date
    clearing_account: str
    journal: str | None = None
    text: str


class RegisteredPayment(_Model):
    id: str  # for display and our record ("<year>-<voucher>" in e-conomic)
    document_id: str
    amount: Decimal
    currency: str


class StockLevel(_Model):
    """Stock of one item: None where the ledger does not keep stock for it (no inventory
    module, a service or fee item)."""

    item: str
    name: str | None = None
    on_hand: Decimal | None
    available: Decimal | None
    barred: bool = False


DocumentRequest.model_rebuild()  # `credited` names LedgerDocument, defined after it
