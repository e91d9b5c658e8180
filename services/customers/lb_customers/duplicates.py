"""Duplicate debtors and link suggestions over the imported debtor index.

Plain functions over plain data (no I/O), tested directly. A ledger customer becomes a
`Debtor` with normalised values (`debtor_from_ledger`); `find_duplicates` groups debtors that
look like one buyer:

- `cvr`: the same CVR/VAT number (a country prefix ignored: 'DK12345674' = '12345674') and
  the same EAN number, or none on either: one CVR often covers many EAN locations (each
  school of a municipality has its own), and those are different customers;
- `email`: the same normalised address (case and spacing ignored; any of several addresses);
- `phone`: the same number in international form ('12 34 56 78' = '+45 12345678');
- `name_address`: names at least `NAME_SIMILARITY` alike (difflib ratio on the normalised
  names) at the same normalised address, zip and city.

Each group has a stable id (a hash of the rule and the sorted customer numbers) and evidence a
bookkeeper can read.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import combinations
from typing import Any, Literal

from lb_common.normalise import (
    normalise_ean,
    normalise_email,
    normalise_name,
    normalise_phone,
    normalise_vat_number,
)

from .matching import ledger_value

Rule = Literal["cvr", "email", "phone", "name_address"]

NAME_SIMILARITY = 0.9
SEPARATOR = ";"

_EMAIL_SPLIT = re.compile(r"[;,\s]+")
_COUNTRY_PREFIX = re.compile(r"^[A-Z]{2}(?=\d)")
_PUNCTUATION = re.compile(r"[.,]")
_SPACES = re.compile(r"\s+")

# e-conomic keeps the country as free text; the names a Nordic shop's ledger mostly holds.
_COUNTRY_CODES: dict[str, str] = {
    "denmark": "DK", "danmark": "DK", "sweden": "SE", "sverige": "SE", "norway": "NO",
    "norge": "NO", "germany": "DE", "deutschland": "DE", "tyskland": "DE", "finland": "FI",
    "suomi": "FI", "iceland": "IS", "island": "IS", "faroe islands": "FO", "færøerne": "FO",
    "greenland": "GL", "grønland": "GL", "netherlands": "NL", "holland": "NL",
    "united kingdom": "GB", "england": "GB", "storbritannien": "GB", "france": "FR",
    "frankrig": "FR", "poland": "PL", "polen": "PL",
}  # fmt: skip


@dataclass(frozen=True)
class Debtor:
    """A ledger customer with normalised values (None or () where the ledger has nothing)."""

    customer_number: int
    name: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    cvr: str | None = None
    ean: str | None = None
    address: str | None = None
    zip: str | None = None
    city: str | None = None
    barred: bool = False


@dataclass(frozen=True)
class DuplicateGroup:
    id: str
    rule: Rule
    customer_numbers: tuple[int, ...]
    evidence: str


@dataclass(frozen=True)
class LinkSuggestion:
    """A link points at one customer while other ledger customers carry the link's value."""

    match_key: str
    linked_to: int
    also_found_on: tuple[int, ...]
    evidence: str


def country_code(country: str | None, home_country: str) -> str:
    """The ISO code of e-conomic's free-text country ('Danmark' → 'DK'); else the shop's own."""
    text = (country or "").strip()
    if len(text) == 2 and text.isalpha():
        return text.upper()
    return _COUNTRY_CODES.get(text.casefold(), home_country)


def normalise_place(value: object) -> str | None:
    """Address, zip or city for comparison: case, dots, commas and spacing ignored."""
    if value is None:
        return None
    cleaned = _SPACES.sub(" ", _PUNCTUATION.sub(" ", str(value))).strip().casefold()
    return cleaned or None


def _emails(value: object) -> tuple[str, ...]:
    if not value:
        return ()
    found = (normalise_email(part) for part in _EMAIL_SPLIT.split(str(value)))
    return tuple(dict.fromkeys(e for e in found if e))


def _cvr(value: object) -> str | None:
    vat = normalise_vat_number(str(value)) if value else None
    return _COUNTRY_PREFIX.sub("", vat) if vat else None


def debtor_from_ledger(customer: Mapping[str, Any], home_country: str = "DK") -> Debtor:
    """A ledger customer (snake_case or e-conomic's camelCase names) as a normalised Debtor."""
    country = country_code(ledger_value(customer, "country"), home_country)
    phones = (
        normalise_phone(str(raw), country)
        for raw in (
            ledger_value(customer, "telephone_and_fax_number"),
            ledger_value(customer, "mobile_phone"),
        )
        if raw
    )
    ean = ledger_value(customer, "ean")
    return Debtor(
        customer_number=int(ledger_value(customer, "customer_number")),
        name=str(ledger_value(customer, "name") or ""),
        emails=_emails(ledger_value(customer, "email")),
        phones=tuple(dict.fromkeys(p for p in phones if p)),
        cvr=_cvr(ledger_value(customer, "corporate_identification_number")),
        ean=normalise_ean(str(ean)) if ean else None,
        address=normalise_place(ledger_value(customer, "address")),
        zip=normalise_place(ledger_value(customer, "zip")),
        city=normalise_place(ledger_value(customer, "city")),
        barred=bool(ledger_value(customer, "barred")),
    )


def group_id(rule: str, numbers: Iterable[int]) -> str:
    """Stable across imports as long as the same customers are in the group."""
    text = f"{rule}:{','.join(str(n) for n in sorted(numbers))}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _group(rule: Rule, numbers: Iterable[int], evidence: str) -> DuplicateGroup:
    ordered = tuple(sorted(set(numbers)))
    return DuplicateGroup(group_id(rule, ordered), rule, ordered, evidence)


def _numbers_text(numbers: Sequence[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def _by_value(
    debtors: Iterable[Debtor], rule: Rule, values: Any, label: str
) -> list[DuplicateGroup]:
    seen: dict[str, set[int]] = defaultdict(set)
    for debtor in debtors:
        for value in values(debtor):
            seen[value].add(debtor.customer_number)
    groups = []
    for value, numbers in sorted(seen.items()):
        if len(numbers) > 1:
            ordered = sorted(numbers)
            text = f"Customers {_numbers_text(ordered)} have the same {label} {value}."
            groups.append(_group(rule, ordered, text))
    return groups


def _same_cvr_and_ean(debtors: Iterable[Debtor]) -> list[DuplicateGroup]:
    """Same CVR/VAT number and the same EAN number (or none): EAN locations stay apart."""
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for debtor in debtors:
        if debtor.cvr:
            seen[(debtor.cvr, debtor.ean or "")].add(debtor.customer_number)
    groups = []
    for (cvr, ean), numbers in sorted(seen.items()):
        if len(numbers) > 1:
            ordered = sorted(numbers)
            also = f"the same EAN number {ean}" if ean else "no EAN number"
            text = (
                f"Customers {_numbers_text(ordered)} have the same CVR/VAT number {cvr} and {also}."
            )
            groups.append(_group("cvr", ordered, text))
    return groups


def similar_names(a: str, b: str) -> float:
    """How alike two names are, 0–1, with case and spacing ignored."""
    return SequenceMatcher(None, normalise_name(a) or "", normalise_name(b) or "").ratio()


def _same_place_similar_names(debtors: Iterable[Debtor], threshold: float) -> list[DuplicateGroup]:
    places: dict[tuple[str, str, str], list[Debtor]] = defaultdict(list)
    for debtor in debtors:
        if debtor.address and debtor.name:
            places[(debtor.address, debtor.zip or "", debtor.city or "")].append(debtor)
    groups = []
    for place, there in sorted(places.items()):
        if len(there) < 2:
            continue
        parent = {d.customer_number: d.customer_number for d in there}

        def root(n: int, parent: dict[int, int] = parent) -> int:
            while parent[n] != n:
                n = parent[n]
            return n

        ratios: list[tuple[Debtor, Debtor, float]] = []
        for a, b in combinations(there, 2):
            ratio = similar_names(a.name, b.name)
            if ratio >= threshold:
                ratios.append((a, b, ratio))
                parent[root(a.customer_number)] = root(b.customer_number)
        components: dict[int, list[Debtor]] = defaultdict(list)
        for debtor in there:
            components[root(debtor.customer_number)].append(debtor)
        where = ", ".join(p for p in place if p)
        for members in components.values():
            if len(members) < 2:
                continue
            numbers = {d.customer_number for d in members}
            pairs = "; ".join(
                f"'{a.name}' ({a.customer_number}) ~ '{b.name}' ({b.customer_number}) "
                f"{round(r * 100)}% alike"
                for a, b, r in ratios
                if a.customer_number in numbers
            )
            text = f"Similar names at the same address ({where}): {pairs}."
            groups.append(_group("name_address", numbers, text))
    return groups


def find_duplicates(
    debtors: Iterable[Debtor], *, name_similarity: float = NAME_SIMILARITY
) -> list[DuplicateGroup]:
    """Candidate duplicate groups, by rule: CVR, email, phone, then similar names at one place.

    A customer may be in several groups (e.g. the same email and the same phone); each group
    is shown once with its own evidence.
    """
    every = list(debtors)
    return [
        *_same_cvr_and_ean(every),
        *_by_value(every, "email", lambda d: d.emails, "email address"),
        *_by_value(every, "phone", lambda d: d.phones, "phone number"),
        *_same_place_similar_names(every, name_similarity),
    ]


def link_suggestions(
    links: Iterable[tuple[str, int]],
    debtors: Iterable[Debtor],
    merged: Mapping[int, int] | None = None,
) -> list[LinkSuggestion]:
    """Links ('email:…', 'phone:…', 'cvr:…', 'ean:…' → customer) whose value other ledger
    customers also carry: perhaps the buyer belongs to one of those (or they are duplicates).

    Customers merged into the linked customer (`merged`: merged → survivor) are left out.
    """
    merged = merged or {}
    index: dict[tuple[str, str], set[int]] = defaultdict(set)
    ean_of: dict[int, str | None] = {}
    for d in debtors:
        ean_of[d.customer_number] = d.ean
        for kind, values in (
            ("email", d.emails),
            ("phone", d.phones),
            ("cvr", (d.cvr,) if d.cvr else ()),
            ("ean", (d.ean,) if d.ean else ()),
        ):
            for value in values:
                index[(kind, value)].add(d.customer_number)
    suggestions = []
    for key, number in sorted(links):
        kind, _, value = key.partition(":")
        if kind == "cvr":
            value = _COUNTRY_PREFIX.sub("", value)
        others = sorted(
            n
            for n in index.get((kind, value), ())
            if n != number
            and merged.get(n) != number
            and merged.get(number) != n
            # Another EAN location under the same CVR is another customer, not a mix-up.
            and not (kind == "cvr" and ean_of.get(n) != ean_of.get(number))
        )
        if others:
            text = (
                f"Orders with {key} go to customer {number}, but e-conomic customer(s) "
                f"{_numbers_text(others)} have the same {kind} too."
            )
            suggestions.append(LinkSuggestion(key, number, tuple(others), text))
    return suggestions
