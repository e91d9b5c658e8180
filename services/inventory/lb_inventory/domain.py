"""The pure part of stock sync: linking SKUs across both catalogues, deciding what to push,
and the mismatch report. No I/O here; `sync.py` feeds these functions and stores the results."""

from __future__ import annotations

import enum
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal


class MismatchKind(enum.StrEnum):
    SHOP_ONLY = "shop_only"  # a SKU in the shop that the ledger has no product for
    LEDGER_ONLY = "ledger_only"  # a stocked ledger product no shop variant carries
    DUPLICATE_SKU = "duplicate_sku"  # one SKU on several shop variants
    NO_SKU = "no_sku"  # a shop variant without a SKU
    LEVEL_DIFFERS = "level_differs"  # the shop's level is not the ledger's


@dataclass(frozen=True)
class LedgerItem:
    product_number: str
    name: str
    available: Decimal | None  # None: the product keeps no stock


@dataclass(frozen=True)
class ShopItem:
    sku: str | None
    inventory_item_id: str
    variant_id: str
    title: str


@dataclass(frozen=True)
class Link:
    sku: str
    product_number: str
    inventory_item_id: str
    variant_id: str
    title: str


@dataclass(frozen=True)
class Mismatch:
    kind: MismatchKind
    key: str  # the SKU, or the inventory item id for a variant without SKU
    message: str
    ledger_level: int | None = None
    shop_level: int | None = None


@dataclass(frozen=True)
class CatalogueScan:
    links: tuple[Link, ...]
    mismatches: tuple[Mismatch, ...]


def shop_quantity(available: Decimal) -> int:
    """The shop counts whole units: a fractional ledger level is rounded down (never oversell)."""
    return math.floor(available)


def link_catalogues(
    ledger: Iterable[LedgerItem], shop: Iterable[ShopItem], *, report_without_sku: bool
) -> CatalogueScan:
    """SKU ↔ ledger product number ↔ shop inventory item, and what cannot be linked.

    The ledger's product number is the SKU. Only stocked ledger products take part. A SKU that
    several shop variants carry is not linked (which one would follow the ledger?) but reported.
    """
    stocked = {item.product_number: item for item in ledger if item.available is not None}
    by_sku: dict[str, list[ShopItem]] = defaultdict(list)
    mismatches: list[Mismatch] = []
    for item in shop:
        if item.sku is None:
            if report_without_sku:
                mismatches.append(
                    Mismatch(
                        MismatchKind.NO_SKU,
                        item.inventory_item_id,
                        f"Shop variant {item.title!r} has no SKU, so its stock cannot follow "
                        "the ledger.",
                    )
                )
            continue
        by_sku[item.sku].append(item)
    links: list[Link] = []
    for sku in sorted(by_sku):
        variants = by_sku[sku]
        if len(variants) > 1:
            titles = ", ".join(repr(v.title) for v in variants)
            mismatches.append(
                Mismatch(
                    MismatchKind.DUPLICATE_SKU,
                    sku,
                    f"SKU {sku} is on {len(variants)} shop variants ({titles}); none is synced "
                    "until only one carries it.",
                )
            )
            continue
        [variant] = variants
        if sku not in stocked:
            mismatches.append(
                Mismatch(
                    MismatchKind.SHOP_ONLY,
                    sku,
                    f"SKU {sku} ({variant.title!r}) is in the shop but the ledger has no stocked "
                    "product with that number.",
                )
            )
            continue
        links.append(Link(sku, sku, variant.inventory_item_id, variant.variant_id, variant.title))
    for number in sorted(set(stocked) - set(by_sku)):
        mismatches.append(
            Mismatch(
                MismatchKind.LEDGER_ONLY,
                number,
                f"Ledger product {number} ({stocked[number].name!r}) keeps stock but no shop "
                "variant has it as SKU.",
            )
        )
    return CatalogueScan(tuple(links), tuple(mismatches))


class Action(enum.StrEnum):
    PUSH = "push"  # set the shop's level to the ledger's
    RECORD = "record"  # the shop already shows the ledger's level: remember it, no call
    UNCHANGED = "unchanged"
    REPORT = "report"  # the shop changed on its own: a difference for a person to look at


def decide(
    target: int, last_pushed: int | None, shop_level: int | None, *, ledger_always_wins: bool
) -> Action:
    """What to do for one linked SKU.

    `target` is the ledger's level in shop units, `last_pushed` what we last set in the shop,
    `shop_level` what the shop shows now (None: unknown, or not stocked at the location).
    The ledger moved since our last push → push. The ledger did not move but the shop did → the
    shop changed on its own: report it, unless the ledger always wins.
    """
    if shop_level == target:
        return Action.UNCHANGED if last_pushed == target else Action.RECORD
    if last_pushed is None or last_pushed != target or ledger_always_wins or shop_level is None:
        return Action.PUSH
    return Action.REPORT


def level_differs(sku: str, target: int, shop_level: int | None) -> Mismatch:
    return Mismatch(
        MismatchKind.LEVEL_DIFFERS,
        sku,
        f"SKU {sku}: the shop shows {shop_level} available, the ledger {target}. The shop "
        "changed it itself; it was not overwritten.",
        ledger_level=target,
        shop_level=shop_level,
    )


@dataclass(frozen=True)
class Plan:
    push: tuple[tuple[Link, int], ...]  # (link, target)
    record: tuple[tuple[Link, int], ...]
    unchanged: tuple[Link, ...]
    differs: tuple[Mismatch, ...]
    untracked: tuple[Link, ...]  # linked, but the ledger reports no level


def plan_sync(
    links: Sequence[Link],
    ledger_levels: Mapping[str, Decimal | None],
    last_pushed: Mapping[str, int | None],
    shop_levels: Mapping[str, int | None],
    *,
    ledger_always_wins: bool,
) -> Plan:
    """`ledger_levels` and `last_pushed` by SKU; `shop_levels` by inventory item id."""
    push: list[tuple[Link, int]] = []
    record: list[tuple[Link, int]] = []
    unchanged: list[Link] = []
    differs: list[Mismatch] = []
    untracked: list[Link] = []
    for link in links:
        available = ledger_levels.get(link.product_number)
        if available is None:
            untracked.append(link)
            continue
        target = shop_quantity(available)
        shop_level = shop_levels.get(link.inventory_item_id)
        action = decide(
            target, last_pushed.get(link.sku), shop_level, ledger_always_wins=ledger_always_wins
        )
        if action is Action.PUSH:
            push.append((link, target))
        elif action is Action.RECORD:
            record.append((link, target))
        elif action is Action.UNCHANGED:
            unchanged.append(link)
        else:
            differs.append(level_differs(link.sku, target, shop_level))
    return Plan(tuple(push), tuple(record), tuple(unchanged), tuple(differs), tuple(untracked))
