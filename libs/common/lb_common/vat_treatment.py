"""Which VAT treatment a sale gets: plain functions over plain data, shared by the customers
service (the VAT zone of a new customer) and invoicing (which product books a line).

- domestic: the buyer is in the shop's own country: the shop's VAT.
- eu_oss: an EU consumer abroad: VAT at the buyer country's rate, declared through the One Stop
  Shop (Council Directive 2017/2455; for goods the place of supply is where they arrive, so the
  shipping country counts first).
- eu_reverse_charge: an EU business with a VAT number: no VAT, the buyer reverse-charges it.
- abroad: outside the EU: no VAT (export).
"""

from __future__ import annotations

from typing import Literal

from lb_common.orders import CanonicalOrder

VatTreatment = Literal["domestic", "eu_oss", "eu_reverse_charge", "abroad"]

EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)


def vat_treatment(
    country: str | None,
    *,
    business: bool,
    home_country: str = "DK",
    eu_countries: frozenset[str] = EU_COUNTRIES,
) -> VatTreatment:
    """The treatment of a sale to a buyer in `country` (ISO code; None: the home country);
    `business`: the buyer has a VAT number."""
    where = (country or home_country).strip().upper()
    if where == home_country.upper():
        return "domestic"
    if where in eu_countries:
        return "eu_reverse_charge" if business else "eu_oss"
    return "abroad"


def destination_country(order: CanonicalOrder) -> str | None:
    """Where the goods go: the shipping address's country, else the billing address's."""
    for address in (order.shipping_address, order.billing_address):
        if address is not None and address.country_code:
            return address.country_code.strip().upper()
    return None


def order_vat_treatment(order: CanonicalOrder, home_country: str = "DK") -> VatTreatment:
    buyer = order.buyer
    business = bool(buyer and buyer.vat_number and buyer.customer_type != "b2c")
    return vat_treatment(destination_country(order), business=business, home_country=home_country)
