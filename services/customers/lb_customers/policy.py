"""How an order's buyer becomes a ledger customer: settings, match keys, VAT zones, the body.

Plain functions over plain data: no I/O here, so every rule is tested directly.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from lb_common.orders import Address, CanonicalOrder, CustomerType

MatchField = Literal["email", "phone", "customer_number"]

EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)


class VatZoneRules(BaseModel):
    """Which e-conomic VAT zone a new customer gets. Data, not code: numbers differ per agreement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home_country: str = "DK"
    domestic: int = 1
    eu_business: int = 2  # EU buyer with a VAT number: reverse charge
    eu_private: int = 1  # EU consumer: the seller charges VAT (OSS)
    abroad: int = 3  # outside the EU


class CustomerDefaults(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_group: int = 1
    payment_terms: int = 1
    layout: int | None = None


class CustomerSettings(BaseModel):
    """The customers service's part of a connection's settings (defaults in the docs)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    match_on: MatchField = "email"
    create_if_missing: bool = True
    default_customer_number: int | None = None
    defaults: CustomerDefaults = CustomerDefaults()
    vat_zones: VatZoneRules = VatZoneRules()


def normalise_email(email: str | None) -> str | None:
    if not email:
        return None
    cleaned = email.strip().lower()
    return cleaned if "@" in cleaned else None


def match_key(order: CanonicalOrder, settings: CustomerSettings) -> str | None:
    """The key this order's buyer is matched on, e.g. 'email:jane@example.com'; None if absent."""
    buyer = order.buyer
    if buyer is None:
        return None
    if settings.match_on == "email":
        email = normalise_email(buyer.email)
        return f"email:{email}" if email else None
    if settings.match_on == "phone":
        digits = "".join(ch for ch in (buyer.phone or "") if ch.isdigit() or ch == "+")
        return f"phone:{digits}" if digits else None
    return f"shop-customer:{buyer.platform_customer_id}" if buyer.platform_customer_id else None


def vat_zone_for(country_code: str | None, customer_type: CustomerType, rules: VatZoneRules) -> int:
    country = (country_code or rules.home_country).upper()
    if country == rules.home_country.upper():
        return rules.domestic
    if country in EU_COUNTRIES:
        return rules.eu_business if customer_type in ("b2b", "ean") else rules.eu_private
    return rules.abroad


def customer_name(order: CanonicalOrder) -> str:
    """Company name for business buyers, else 'first last'; never empty (e-conomic requires it)."""
    buyer = order.buyer
    address = order.billing_address or order.shipping_address
    if buyer is not None and buyer.customer_type in ("b2b", "ean"):
        company = buyer.company or (address.company if address else None)
        if company:
            return company.strip()
    if buyer is not None and buyer.full_name:
        return buyer.full_name
    if address is not None and address.name:
        return address.name.strip()
    if buyer is not None and buyer.email:
        return buyer.email
    return f"Webshop customer {order.order_name}"


def _street(address: Address) -> str | None:
    parts = [p.strip() for p in (address.address1, address.address2) if p and p.strip()]
    return "\n".join(parts) or None


def new_customer_fields(order: CanonicalOrder, settings: CustomerSettings) -> dict[str, object]:
    """The fields of a new ledger customer (e-conomic's names), from the order and the defaults."""
    buyer = order.buyer
    address = order.billing_address or order.shipping_address
    customer_type: CustomerType = buyer.customer_type if buyer else "b2c"
    fields: dict[str, object] = {
        "name": customer_name(order)[:255],
        "currency": order.currency,
        "customer_group": {"customer_group_number": settings.defaults.customer_group},
        "payment_terms": {"payment_terms_number": settings.defaults.payment_terms},
        "vat_zone": {
            "vat_zone_number": vat_zone_for(
                address.country_code if address else None, customer_type, settings.vat_zones
            )
        },
    }
    if settings.defaults.layout is not None:
        fields["layout"] = {"layout_number": settings.defaults.layout}
    if buyer is not None:
        if email := normalise_email(buyer.email):
            fields["email"] = email
        if buyer.phone:
            fields["telephone_and_fax_number"] = buyer.phone
        if buyer.vat_number:
            fields["corporate_identification_number"] = buyer.vat_number
        if buyer.ean:
            fields["ean"] = buyer.ean
    if address is not None:
        if street := _street(address):
            fields["address"] = street[:510]
        if address.zip:
            fields["zip"] = address.zip[:30]
        if address.city:
            fields["city"] = address.city[:50]
        if address.country:
            fields["country"] = address.country[:50]
    return fields
