"""The invoicing service's part of a connection's settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lb_common.vat_treatment import VatTreatment


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


class VatRoute(BaseModel):
    """Which product books the lines of one VAT treatment (and rate): e-conomic takes a line's
    VAT from its product's group, that group's sales account for the customer's VAT zone and
    that account's VAT code, so a sale to a German consumer at 19 % (OSS) needs a product in a
    group whose account carries a 19 % OSS code. The first route that matches a line decides."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # domestic, eu_oss (EU consumer, the buyer country's rate), eu_reverse_charge (EU business
    # with a VAT number), abroad (outside the EU).
    treatment: VatTreatment
    # eu_oss: the buyer's country (ISO code, e.g. DE); empty: every country.
    country: str | None = None
    # The shop's VAT rate on the line, e.g. 0.19; empty: every rate.
    rate: Decimal | None = None
    # Book matching lines on this product (its group gives e-conomic the VAT code)...
    product: str | None = None
    # ...or keep each line's own product when it is in this product group (else `product`,
    # if set; else the order stops, naming the product to move).
    product_group: int | None = Field(default=None, ge=1)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip().upper()
        if len(text) != 2 or not text.isalpha():
            raise ValueError(f"'{value}' is not a two-letter country code (ISO 3166-1, e.g. DE)")
        return text

    @model_validator(mode="after")
    def _books_somewhere(self) -> VatRoute:
        if self.product is None and self.product_group is None:
            raise ValueError("a VAT route needs a product or a product_group")
        return self


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
    # Days from the invoice date to its due date, sent on every draft: e-conomic needs one
    # when the payment terms are of type dueDate, and derives it (ignoring ours) otherwise.
    due_days: int = Field(default=0, ge=0, le=365)
    # The shop's own country (ISO code): sales there are domestic for the VAT routes.
    home_country: str = "DK"
    # Which product or product group books each VAT treatment and rate (see VatRoute); none:
    # every line on its own product, whatever the buyer's country.
    vat_routes: tuple[VatRoute, ...] = ()
    # Kind-specific document options for the connection's ledger, passed as they are
    # (docs/ledger-port.md; QuickBooks: tax_code, tax_calculation, default_item, refund_as,
    # refund_account). `layout` and `payment_terms` above go to every ledger that has them.
    ledger_options: dict[str, str] = Field(default_factory=dict)


# The demo connection books lines without a SKU (the public Shopify sample has none) on a
# default product, and says so on the timeline.
DEMO_SETTINGS = InvoiceSettings(
    missing_sku="default_product", default_product="WEB-DEFAULT", layout=21
)
