"""Settings proposed for a newly granted ledger, from its own reference data as the ledger port
reads it (`ReferenceData`: customer groups, payment terms, tax zones, layouts): a plain
function, no I/O.

Agreements differ: numbers are the bookkeeper's choice, names are in Danish, Swedish, Norwegian
or English. So each choice says why it was made, and a setting with no good candidate is left
out (its default stays) with a note asking the operator to pick one. The operator confirms;
nothing is applied by itself (docs: README "Connect a new agreement").

The result is partial settings per service, in each service's own field names:
customers (`defaults.customer_group`, `defaults.payment_terms`, `vat_zones.*`) and invoicing
(`layout`). A ledger id of digits is proposed as a number (e-conomic's numbers, which those
settings hold); a list the ledger does not have leaves its settings out, each with a note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from lb_connectors.ledger import Choice as Offered
from lb_connectors.ledger import ReferenceData

#: Words in a customer group's name that say it is for webshop or private buyers.
SHOP_GROUP_WORDS = ("web", "shop", "privat", "private", "consumer", "b2c", "forbruger")
#: Payment terms types of an order already paid at checkout (the `type` fact: e-conomic's
#: paymentTermsType).
PAID_TYPES = ("paidInCash", "prepaid", "creditcard")
DOMESTIC_WORDS = ("domestic", "indland", "inland", "innland", "danmark", "sverige", "norge")
EXEMPT_WORDS = ("exempt", "fritag", "momsfri", "undtaget")
EU_WORDS = ("eu",)
ABROAD_WORDS = ("abroad", "udland", "utland", "export", "eksport", "world", "non-eu")


@dataclass(frozen=True)
class Choice:
    service: str
    setting: str  # dotted path inside the service's settings
    value: int | str | None  # None: no candidate, the default stays
    why: str


def _value(choice: Offered) -> int | str:
    return int(choice.id) if choice.id.isdigit() else choice.id


def _order(choice: Offered) -> tuple[int, int | str]:
    """The ledger's own order: by number where ids are numbers."""
    return (0, int(choice.id)) if choice.id.isdigit() else (1, choice.id)


def _words(name: str) -> set[str]:
    return set(re.findall(r"[a-zæøåäö-]+", name.lower()))


def _has(name: str, words: Iterable[str]) -> bool:
    lowered, found = name.lower(), _words(name)
    # Short words must be whole words ("eu" is not in "europe"-less names by accident).
    return any((w in found) if len(w) <= 3 else (w in lowered) for w in words)


def _group(groups: Sequence[Offered]) -> Choice:
    ordered = sorted(groups, key=_order)
    named = [g for g in ordered if _has(g.name, SHOP_GROUP_WORDS)]
    if named:
        g = named[0]
        return Choice(
            "customers",
            "defaults.customer_group",
            _value(g),
            f"customer group {g.id} '{g.name}': its name says webshop or private buyers",
        )
    if ordered:
        g = ordered[0]
        return Choice(
            "customers",
            "defaults.customer_group",
            _value(g),
            f"customer group {g.id} '{g.name}': the agreement's first; no group's name says "
            "webshop, so check it",
        )
    return Choice(
        "customers", "defaults.customer_group", None, "the agreement has no customer group"
    )


def _credit_days(terms: Offered) -> int:
    days = terms.facts.get("days_of_credit", "")
    return int(days) if days.isdigit() else 0


def _terms(terms: Sequence[Offered]) -> Choice:
    ordered = sorted(terms, key=_order)
    paid = [t for t in ordered if t.facts.get("type") in PAID_TYPES]
    net = sorted(
        (t for t in ordered if t.facts.get("type") == "net"),
        key=lambda t: (_credit_days(t), _order(t)),
    )
    if paid:
        t, why = paid[0], "webshop orders are paid at checkout"
    elif net:
        t, why = net[0], "the net terms with the fewest days of credit (none says paid in cash)"
    elif ordered:
        t, why = ordered[0], "the agreement's first payment terms; check them"
    else:
        return Choice(
            "customers", "defaults.payment_terms", None, "the agreement has no payment terms"
        )
    kind = t.facts.get("type")
    return Choice(
        "customers",
        "defaults.payment_terms",
        _value(t),
        f"payment terms {t.id} '{t.name}'{f' ({kind})' if kind else ''}: {why}",
    )


def _zone(
    zones: Sequence[Offered], setting: str, words: Iterable[str], meaning: str
) -> tuple[Choice, Offered | None]:
    """`zones` are those the ledger offers for customers (the port leaves out the others)."""
    candidates = [
        z
        for z in sorted(zones, key=_order)
        if _has(z.name, words) and not _has(z.name, EXEMPT_WORDS)
    ]
    if not candidates:
        return Choice(
            "customers",
            f"vat_zones.{setting}",
            None,
            f"no VAT zone's name says {meaning}: the default stays; pick one",
        ), None
    z = candidates[0]
    return Choice(
        "customers", f"vat_zones.{setting}", _value(z), f"VAT zone {z.id} '{z.name}': {meaning}"
    ), z


def _layout(layouts: Sequence[Offered]) -> Choice:
    """`layouts` are the usable ones (the port leaves deleted layouts out)."""
    usable = sorted(layouts, key=_order)
    standard = [x for x in usable if _has(x.name, ("standard",))]
    if standard or usable:
        x = (standard or usable)[0]
        why = "its name says standard" if standard else "the agreement's first layout"
        return Choice("invoicing", "layout", _value(x), f"layout {x.id} '{x.name}': {why}")
    return Choice("invoicing", "layout", None, "the agreement has no layout")


def propose(reference: ReferenceData) -> list[Choice]:
    zones = reference.tax_zones
    domestic, home = _zone(zones, "domestic", DOMESTIC_WORDS, "buyers in the home country")
    eu, _ = _zone(zones, "eu_business", EU_WORDS, "EU businesses with a VAT number")
    abroad, _ = _zone(zones, "abroad", ABROAD_WORDS, "buyers outside the EU")
    eu_private = Choice(
        "customers",
        "vat_zones.eu_private",
        _value(home) if home else None,
        (
            f"VAT zone {home.id} '{home.name}': EU private buyers pay the seller's VAT (OSS), "
            "as at home"
            if home
            else "no domestic VAT zone was found: the default stays; pick one"
        ),
    )
    return [
        _group(reference.customer_groups),
        _terms(reference.payment_terms),
        domestic,
        eu,
        eu_private,
        abroad,
        _layout(reference.layouts),
    ]


def as_settings(choices: Iterable[Choice]) -> dict[str, dict[str, Any]]:
    """The choices with a value as partial settings per service: {"customers": {"defaults":
    {"customer_group": 1, ...}, ...}, "invoicing": {"layout": 21}}."""
    out: dict[str, dict[str, Any]] = {}
    for c in choices:
        if c.value is None:
            continue
        node = out.setdefault(c.service, {})
        *parents, leaf = c.setting.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = c.value
    return out


def described(choices: Iterable[Choice]) -> list[dict[str, Any]]:
    return [asdict(c) for c in choices]
