"""Match keys: how an order's buyer is found among links and ledger customers.

`match_keys(order, settings)` gives the keys to try, first key first. Each key knows its link
key (`str(key)`, e.g. 'email:jane@example.com') and, when the ledger may hold it, the ledger
port's key (`key.port`); the ledger's adapter decides how it searches for it and which of its
customers really match (e-conomic: `lb_connectors/economic/customer_match.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic.alias_generators import to_camel, to_snake

from lb_common.normalise import (
    normalise_ean,
    normalise_email,
    normalise_name,
    normalise_phone,
    normalise_text,
    normalise_vat_number,
)
from lb_common.orders import CanonicalOrder
from lb_connectors.ledger.models import MatchKey as LedgerKey

from .config import CustomerSettings, MatchField, ShopValue
from .naming import buyer_name
from .validators import customer_number_problem, validate_cvr, validate_ean

_LINK_PREFIX: dict[str, str] = {"customer_number": "shop-customer"}
_COUNTRY_PREFIX = re.compile(r"^[A-Z]{2}(?=\d)")


@dataclass(frozen=True)
class MatchKey:
    """One way to find the buyer: the normalised value, its link key, and whether the ledger
    is searched for it (False: the key only finds links, e.g. the shop's customer id)."""

    kind: MatchField
    value: str
    link_prefix: str
    in_ledger: bool = False
    country: str | None = None  # phone: the numbering plan of numbers without a prefix
    written: str | None = None  # name: as the shop wrote it (the ledger holds it so)
    field: str | None = None  # custom_field: the ledger field that holds the value

    def __str__(self) -> str:
        return f"{self.link_prefix}:{self.value}"

    @property
    def describe(self) -> str:
        return _DESCRIPTIONS[self.kind]

    @property
    def port(self) -> LedgerKey | None:
        """The ledger port's key for this key; None when the key only finds links."""
        if not self.in_ledger:
            return None
        return LedgerKey(
            kind=self.kind,
            value=self.value,
            country=self.country,
            written=self.written,
            field=self.field,
        )


_DESCRIPTIONS: dict[str, str] = {
    "email": "email address",
    "phone": "phone number",
    "customer_number": "shop customer number",
    "name": "name",
    "cvr": "CVR/VAT number",
    "ean": "EAN number",
    "custom_field": "custom field value",
}


def buyer_country(order: CanonicalOrder, settings: CustomerSettings) -> str:
    """The buyer's country code (billing, then shipping address), else the shop's own."""
    for address in (order.billing_address, order.shipping_address):
        if address is not None and address.country_code:
            return address.country_code.strip().upper()
    return settings.vat_zones.home_country


def buyer_phone(order: CanonicalOrder, settings: CustomerSettings) -> str | None:
    """The buyer's phone number in international form ('+4512345678'), if any."""
    buyer = order.buyer
    raw = buyer.phone if buyer else None
    if not raw:
        address = order.billing_address or order.shipping_address
        raw = address.phone if address else None
    return normalise_phone(raw, buyer_country(order, settings))


def buyer_vat_number(order: CanonicalOrder, settings: CustomerSettings) -> str | None:
    """The buyer's VAT number, cleaned; a Danish one must pass the CVR check.

    Raises CustomerDecisionError for an invalid Danish CVR number. Foreign VAT numbers
    ('DE123456789') are kept as written, without separators.
    """
    buyer = order.buyer
    value = normalise_vat_number(buyer.vat_number if buyer else None)
    if value is None:
        return None
    if _COUNTRY_PREFIX.match(value) or buyer_country(order, settings) != "DK":
        return value
    assert buyer is not None and buyer.vat_number is not None
    return validate_cvr(buyer.vat_number, buyer.vat_number_source)


def buyer_ean(order: CanonicalOrder) -> str | None:
    """The buyer's EAN number, cleaned; raises CustomerDecisionError when it is not valid."""
    buyer = order.buyer
    if buyer is None or normalise_ean(buyer.ean) is None:
        return None
    return validate_ean(buyer.ean, buyer.ean_source)


def shop_value(
    kind: ShopValue | MatchField, order: CanonicalOrder, settings: CustomerSettings
) -> str | None:
    """The normalised value of one buyer detail on the order (None when absent)."""
    buyer = order.buyer
    if kind == "email":
        return normalise_email(buyer.email if buyer else None)
    if kind == "phone":
        return buyer_phone(order, settings)
    if kind in ("customer_number", "shop_customer_id"):
        return normalise_text(buyer.platform_customer_id) if buyer else None
    if kind == "name":
        return normalise_name(buyer_name(order, settings))
    if kind == "cvr":
        return buyer_vat_number(order, settings)
    if kind == "ean":
        return buyer_ean(order)
    if kind == "custom_field":
        if settings.custom_field is None:
            return None
        return shop_value(settings.custom_field.shop_value, order, settings)
    raise ValueError(f"unknown buyer detail {kind!r}")


def build_key(
    kind: MatchField, order: CanonicalOrder, settings: CustomerSettings
) -> MatchKey | None:
    """The match key of `kind` for this order, or None when the order lacks that detail."""
    value = shop_value(kind, order, settings)
    if value is None:
        return None
    prefix = _LINK_PREFIX.get(kind, kind)
    if kind == "phone":
        return MatchKey(kind, value, prefix, True, country=buyer_country(order, settings))
    if kind == "customer_number":
        # The shop's id names a ledger customer only when new customers take it as number.
        in_ledger = settings.customer_number_source == "shop_customer_id"
        return MatchKey(kind, value, prefix, in_ledger and not customer_number_problem(value))
    if kind == "name":
        return MatchKey(kind, value, prefix, True, written=buyer_name(order, settings) or value)
    if kind == "custom_field":
        assert settings.custom_field is not None  # settings validation guarantees it
        field = settings.custom_field.ledger_field
        return MatchKey(kind, value, f"custom-{field}", True, field=field)
    return MatchKey(kind, value, prefix, True)


def match_keys(order: CanonicalOrder, settings: CustomerSettings) -> tuple[MatchKey, ...]:
    """The keys to try for this buyer, first key first (missing details are skipped).

    Raises CustomerDecisionError when a key is a CVR or EAN number that fails its check.
    """
    buyer = order.buyer
    profile = settings.profile_for(buyer.customer_type if buyer else "b2c")
    keys: dict[str, MatchKey] = {}
    for kind in (profile.match_on, profile.match_on_second):
        if kind is not None and (key := build_key(kind, order, settings)) is not None:
            keys.setdefault(str(key), key)
    return tuple(keys.values())


def match_key(order: CanonicalOrder, settings: CustomerSettings) -> str | None:
    """The link key of the buyer's first match key, e.g. 'email:jane@example.com'; None if none."""
    keys = match_keys(order, settings)
    return str(keys[0]) if keys else None


def ledger_value(customer: Mapping[str, Any], name: str) -> Any:
    """A field of a customer record given in snake_case or camelCase names."""
    snake, camel = to_snake(name), to_camel(to_snake(name))
    if snake in customer:
        return customer[snake]
    return customer.get(camel)
