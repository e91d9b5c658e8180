"""Match keys: how an order's buyer is found among links and ledger customers.

`match_keys(order, settings)` gives the keys to try, first key first. Each key knows its link
key (`str(key)`, e.g. 'email:jane@example.com'), the ledger filter that finds candidates
(`ledger_filter(key)`), and which candidates really match (`pick_ledger_match`): ledger values
are spelt freely ('12 34 56 78', 'DK12345674', 'Jane@Example.com'), so the filter casts a
slightly wider net and the normalised comparison decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.alias_generators import to_camel, to_snake

from lb_common.orders import CanonicalOrder
from lb_connectors.economic.filters import Field, Filter, or_

from .config import CustomerSettings, MatchField, ShopValue
from .naming import buyer_name
from .normalise import (
    PHONE_PLANS,
    normalise_ean,
    normalise_email,
    normalise_name,
    normalise_phone,
    normalise_text,
    normalise_vat_number,
)
from .validators import customer_number_problem, validate_cvr, validate_ean

LedgerSearch = Literal["eq", "like"]

_LINK_PREFIX: dict[str, str] = {"customer_number": "shop-customer"}
_EMAIL_SPLIT = re.compile(r"[;,\s]+")
_COUNTRY_PREFIX = re.compile(r"^[A-Z]{2}(?=\d)")


@dataclass(frozen=True)
class MatchKey:
    """One way to find the buyer: the normalised value, and where the ledger keeps it."""

    kind: MatchField
    value: str
    link_prefix: str
    ledger_fields: tuple[str, ...] = ()  # e-conomic property names (camelCase); () = links only
    ledger_values: tuple[str | int, ...] = ()
    search: LedgerSearch = "eq"
    phone_country: str | None = None

    def __str__(self) -> str:
        return f"{self.link_prefix}:{self.value}"

    @property
    def describe(self) -> str:
        return _DESCRIPTIONS[self.kind]


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


def _phone_variants(e164: str) -> tuple[str, ...]:
    if not e164.startswith("+"):
        return (e164,)  # digits in an unknown numbering plan: as written
    variants = [e164, "00" + e164[1:]]
    for plan in PHONE_PLANS.values():
        if e164.startswith("+" + plan.calling_code):
            national = e164[1 + len(plan.calling_code) :]
            code = plan.calling_code
            variants += [plan.trunk_prefix + national, f"+{code} {national}"]
            if plan.national_length == 8 and len(national) == 8:  # '12 34 56 78'
                pairs = " ".join(national[i : i + 2] for i in range(0, 8, 2))
                variants += [pairs, f"+{code} {pairs}"]
            break
    return tuple(dict.fromkeys(variants))


def _cvr_variants(value: str) -> tuple[str, ...]:
    if value.isdigit() and len(value) == 8:
        pairs = " ".join(value[i : i + 2] for i in range(0, 8, 2))
        return (value, f"DK{value}", f"DK {value}", f"DK-{value}", pairs)
    bare = _COUNTRY_PREFIX.sub("", value)
    return tuple(dict.fromkeys((value, bare)))


def build_key(
    kind: MatchField, order: CanonicalOrder, settings: CustomerSettings
) -> MatchKey | None:
    """The match key of `kind` for this order, or None when the order lacks that detail."""
    value = shop_value(kind, order, settings)
    if value is None:
        return None
    prefix = _LINK_PREFIX.get(kind, kind)
    if kind == "email":
        return MatchKey(kind, value, prefix, ("email",), (value,), "like")
    if kind == "phone":
        country = buyer_country(order, settings)
        return MatchKey(
            kind,
            value,
            prefix,
            ("telephoneAndFaxNumber", "mobilePhone"),
            _phone_variants(value),
            phone_country=country,
        )
    if kind == "customer_number":
        if settings.customer_number_source == "shop_customer_id" and not customer_number_problem(
            value
        ):
            return MatchKey(kind, value, prefix, ("customerNumber",), (int(value),))
        return MatchKey(kind, value, prefix)  # the shop's id says nothing about the ledger
    if kind == "name":
        raw = buyer_name(order, settings) or value
        return MatchKey(kind, value, prefix, ("name",), (raw,), "like")
    if kind == "cvr":
        return MatchKey(
            kind, value, prefix, ("corporateIdentificationNumber",), _cvr_variants(value)
        )
    if kind == "ean":
        return MatchKey(kind, value, prefix, ("ean",), (value,))
    assert settings.custom_field is not None  # settings validation guarantees it
    field = settings.custom_field.ledger_field
    return MatchKey(kind, value, f"custom-{field}", (field,), (value,))


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


def ledger_filter(key: MatchKey) -> Filter | None:
    """The e-conomic filter for candidate customers; None when the key is for links only."""
    if not key.ledger_fields:
        return None
    parts = [
        Field(field).like(str(value)) if key.search == "like" else Field(field).eq(value)
        for field in key.ledger_fields
        for value in key.ledger_values
    ]
    return or_(*parts)


def _plain(customer: Mapping[str, Any] | BaseModel) -> Mapping[str, Any]:
    if isinstance(customer, BaseModel):
        return customer.model_dump()
    return customer


def ledger_value(customer: Mapping[str, Any], name: str) -> Any:
    """A field of a ledger customer given in snake_case or e-conomic's camelCase names."""
    snake, camel = to_snake(name), to_camel(to_snake(name))
    if snake in customer:
        return customer[snake]
    return customer.get(camel)


def _same(key: MatchKey, field: str, stored: Any) -> bool:
    if stored is None:
        return False
    if key.kind == "email":
        return key.value in {normalise_email(p) for p in _EMAIL_SPLIT.split(str(stored))}
    if key.kind == "phone":
        return normalise_phone(str(stored), key.phone_country) == key.value
    if key.kind == "customer_number":
        return str(stored).strip() == key.value
    if key.kind == "name":
        return normalise_name(str(stored)) == key.value
    if key.kind == "cvr":
        stored_vat = normalise_vat_number(str(stored))
        if stored_vat is None:
            return False
        return _COUNTRY_PREFIX.sub("", stored_vat) == _COUNTRY_PREFIX.sub("", key.value)
    if key.kind == "ean":
        return normalise_ean(str(stored)) == key.value
    stored_text = normalise_text(stored)
    return stored_text is not None and stored_text.casefold() == key.value.casefold()


def ledger_customer_matches(key: MatchKey, customer: Mapping[str, Any] | BaseModel) -> bool:
    """True if this ledger customer (dict or model) really has the key's value."""
    fields = _plain(customer)
    return any(_same(key, f, ledger_value(fields, f)) for f in key.ledger_fields)


def pick_ledger_match(
    key: MatchKey, customers: Iterable[Mapping[str, Any] | BaseModel]
) -> int | None:
    """The ledger customer number for `key` among the filter's results, or None.

    Several real matches (an old duplicate): the lowest number wins, consistently; customers
    that are barred in e-conomic are only chosen when no other matches.
    """
    matches = [_plain(c) for c in customers if ledger_customer_matches(key, c)]
    if not matches:
        return None
    open_ = [c for c in matches if not ledger_value(c, "barred")] or matches
    return min(int(ledger_value(c, "customer_number")) for c in open_)
