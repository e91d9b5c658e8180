"""Finding a buyer among e-conomic's customers by a match key of the ledger port.

e-conomic's filters compare text as written, while ledger values are spelt freely ('12 34 56
78', 'DK12345674', 'Jane@Example.com'). So `ledger_filter(key)` casts a slightly wider net (the
spellings people write, `$like` for e-mails and names) and `pick_ledger_match` decides with the
customers service's own normalising (lb_common.normalise): the same buyer matches itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.alias_generators import to_camel, to_snake

from lb_common.normalise import (
    PHONE_PLANS,
    normalise_ean,
    normalise_email,
    normalise_name,
    normalise_phone,
    normalise_text,
    normalise_vat_number,
)
from lb_connectors.economic.filters import Field, Filter, or_
from lb_connectors.ledger.models import MatchKey

_EMAIL_SPLIT = re.compile(r"[;,\s]+")
_COUNTRY_PREFIX = re.compile(r"^[A-Z]{2}(?=\d)")

# Match key kind → the customer properties it lives in; custom_field names its own.
_KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "cvr": ("corporateIdentificationNumber",),
    "ean": ("ean",),
    "phone": ("telephoneAndFaxNumber", "mobilePhone"),
    "name": ("name",),
    "customer_number": ("customerNumber",),
}


def key_fields(key: MatchKey) -> tuple[str, ...]:
    """The e-conomic customer properties the key's value lives in; () when none can hold it."""
    if key.kind == "custom_field":
        return (key.field,) if key.field else ()
    if key.kind == "customer_number" and not key.value.isdigit():
        return ()  # e-conomic numbers customers with numbers only
    return _KEY_FIELDS.get(key.kind, ())


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


def _spellings(key: MatchKey) -> tuple[str | int, ...]:
    if key.kind == "phone":
        return _phone_variants(key.value)
    if key.kind == "cvr":
        return _cvr_variants(key.value)
    if key.kind == "customer_number":
        return (int(key.value),)
    if key.kind == "name":
        return (key.written or key.value,)
    return (key.value,)


def ledger_filter(key: MatchKey) -> Filter | None:
    """The filter for candidate customers (one call); None when e-conomic cannot hold the key."""
    fields = key_fields(key)
    if not fields or not key.value:
        return None
    like = key.kind in ("email", "name")
    parts = [
        Field(field).like(str(value)) if like else Field(field).eq(value)
        for field in fields
        for value in _spellings(key)
    ]
    return or_(*parts)


def _plain(customer: Mapping[str, Any] | BaseModel) -> Mapping[str, Any]:
    if isinstance(customer, BaseModel):
        return customer.model_dump()
    return customer


def ledger_value(customer: Mapping[str, Any], name: str) -> Any:
    """A field of a customer given in snake_case or e-conomic's camelCase names."""
    snake, camel = to_snake(name), to_camel(to_snake(name))
    if snake in customer:
        return customer[snake]
    return customer.get(camel)


def _same(key: MatchKey, stored: Any) -> bool:
    if stored is None:
        return False
    if key.kind == "email":
        return key.value in {normalise_email(p) for p in _EMAIL_SPLIT.split(str(stored))}
    if key.kind == "phone":
        return normalise_phone(str(stored), key.country) == key.value
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
    """True if this customer (dict or model) really has the key's value."""
    fields = _plain(customer)
    return any(_same(key, ledger_value(fields, f)) for f in key_fields(key))


def pick_ledger_match(
    key: MatchKey, customers: Iterable[Mapping[str, Any] | BaseModel]
) -> int | None:
    """The customer number for `key` among the filter's results, or None.

    Several real matches (an old duplicate): the lowest number wins, consistently; barred
    customers are only chosen when no other matches.
    """
    matches = [_plain(c) for c in customers if ledger_customer_matches(key, c)]
    if not matches:
        return None
    open_ = [c for c in matches if not ledger_value(c, "barred")] or matches
    return min(int(ledger_value(c, "customer_number")) for c in open_)
