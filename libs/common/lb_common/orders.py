"""The canonical order: what every platform adapter produces and every service consumes.

Amounts are in the shop's currency (`currency`) unless a field says otherwise. `unit_price` is the
price per unit as the shop showed it: including VAT when `taxes_included`, else excluding it.

`presentment` is the same order with every amount in the buyer's (presentment) currency, and
`currency` set to that currency; None when the platform gives no such amounts or the buyer paid in
the shop's currency.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Platform = Literal["shopify", "woocommerce", "keap"]
CustomerType = Literal["b2c", "b2b", "ean"]


def make_order_key(platform: str, shop: str, order_id: str) -> str:
    return f"{platform}:{shop}:{order_id}"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(_Model):
    name: str | None = None
    company: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    zip: str | None = None
    province: str | None = None
    country: str | None = None
    country_code: str | None = None  # ISO 3166-1 alpha-2
    phone: str | None = None


class Buyer(_Model):
    """The shop's customer as seen on this order (may be a guest)."""

    platform_customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    # CVR in Denmark. VAT and EAN numbers are kept as the buyer typed them ('579 0000 000005'),
    # so a failure can quote them; lb_common.identifiers gives the spelling the ledger wants.
    vat_number: str | None = None
    ean: str | None = None
    # Where on the order the shop keeps them, in the shop's words ("note attribute 'EAN'",
    # "order meta '_billing_ean'"), so a failure can say where to correct them.
    vat_number_field: str | None = None
    ean_field: str | None = None
    customer_type: CustomerType = "b2c"

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p).strip()

    @property
    def vat_number_source(self) -> str:
        """ "the order's note attribute 'CVR'": where the VAT number came from, for messages."""
        return f"the order's {self.vat_number_field}" if self.vat_number_field else "the order"

    @property
    def ean_source(self) -> str:
        """ "the order's note attribute 'EAN'": where the EAN number came from, for messages."""
        return f"the order's {self.ean_field}" if self.ean_field else "the order"


class OrderLine(_Model):
    line_id: str
    sku: str | None = None  # None when the shop has no SKU for the line
    title: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal = Decimal("0")  # total discount allocated to the whole line
    tax: Decimal = Decimal("0")  # total tax charged on the line
    tax_rate: Decimal | None = None  # e.g. 0.25
    product_id: str | None = None
    variant_id: str | None = None
    gift_card: bool = False
    kind: Literal["product", "fee"] = "product"  # fee: a surcharge line (payment fee, handling)


class ShippingLine(_Model):
    line_id: str
    title: str
    price: Decimal
    discount: Decimal = Decimal("0")
    tax: Decimal = Decimal("0")
    tax_rate: Decimal | None = None


class CanonicalOrder(_Model):
    platform: Platform
    shop: str
    order_id: str
    order_name: str
    version: datetime = Field(description="The platform's updated_at, UTC; newer wins")
    created_at: datetime
    currency: str
    presentment_currency: str | None = None
    taxes_included: bool = False
    financial_status: str = "pending"
    fulfillment_status: str | None = None
    cancelled_at: datetime | None = None
    test: bool = False
    payment_gateways: tuple[str, ...] = ()
    source_name: str | None = None
    buyer: Buyer | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    lines: tuple[OrderLine, ...] = ()
    shipping_lines: tuple[ShippingLine, ...] = ()
    total_discounts: Decimal = Decimal("0")
    total_tax: Decimal = Decimal("0")
    total_price: Decimal
    note: str | None = None
    presentment: CanonicalOrder | None = None

    @field_validator("version", "created_at", "cancelled_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value

    @field_validator("presentment")
    @classmethod
    def _flat(cls, value: CanonicalOrder | None) -> CanonicalOrder | None:
        if value is not None and value.presentment is not None:
            raise ValueError("the presentment version cannot have a presentment version")
        return value

    @property
    def order_key(self) -> str:
        return make_order_key(self.platform, self.shop, self.order_id)


CanonicalOrder.model_rebuild()
