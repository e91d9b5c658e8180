"""The invoicing service's part of a connection's settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PaymentRegistration(BaseModel):
    """Register the payment of orders paid up front, in a journal (kassekladde), against a posting
    account: a suspense account such as "webshop sales" rather than the bank, because the
    gateway's fees are deducted before the payout reaches the bank."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The journal (kassekladde) the payment is entered in; a bookkeeper books the journal.
    journal: int = Field(ge=1)
    # The posting account the payment is debited to (e.g. a "webshop sales" suspense account).
    contra_account: int = Field(ge=1)
    # The shop's financial statuses that mean the order was paid up front.
    paid_statuses: tuple[str, ...] = ("paid",)


class InvoiceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # One invoice line per order line, or the whole order as one line on `total_product`.
    lines: Literal["per_product", "one_total"] = "per_product"
    total_product: str | None = None
    # Gift cards sold are booked on this product (its own account), not as sales.
    gift_card_product: str | None = None
    # Payment and handling fees on this product (unset: like any line without a SKU).
    fee_product: str | None = None
    # Order discounts as their own lines on this product (unset: inside the lines' prices).
    discount_product: str | None = None
    # What to do with a line whose SKU is not a product in the ledger, or that has no SKU.
    unknown_product: Literal["fail", "default_product", "create"] = "fail"
    # With unknown_product = create: the product group new products go in.
    new_product_group: int = 1
    # Payment terms for invoices; unset: the customer's own.
    payment_terms: int | None = None
    missing_sku: Literal["fail", "default_product"] = "fail"
    default_product: str | None = None
    shipping_product: str = "SHIPPING"
    # Refunds: credit notes on/off, and the product for amount-only refunds (else the default).
    credit_notes: bool = True
    refund_product: str | None = None
    # Layout for new invoices: this one, else the customer's, else the agreement's first.
    layout: int | None = None
    book: bool = True  # False: leave a draft for the bookkeeper
    # EAN buyers (Danish public sector) get their invoice sent as an e-invoice through e-conomic.
    ean_einvoice: bool = True
    # The invoice's amounts and currency: the shop's, or the buyer's (presentment) when the
    # platform gives them (Shopify does; an order the buyer paid in shop currency stays as is).
    amounts: Literal["shop", "presentment"] = "shop"
    # Largest difference between the ledger's invoice total and the shop's, per document.
    tolerance: Decimal = Decimal("0.01")
    # Orders paid up front: register the payment against the invoice once it is booked.
    payment_registration: PaymentRegistration | None = None


# The demo connection books lines without a SKU (the public Shopify sample has none) on a
# default product, and says so on the timeline.
DEMO_SETTINGS = InvoiceSettings(
    missing_sku="default_product", default_product="WEB-DEFAULT", layout=21
)
