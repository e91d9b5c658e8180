"""The pure part of stock sync: linking SKUs across both catalogues, deciding what to push,
and the mismatch report. No I/O here; `sync.py` feeds these functions and stores the results."""

from __future__ import annotations

import enum
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence, Set
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
    barred: bool = False  # can no longer be sold: not expected in the shop


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


def free_to_sell(available: Decimal, held: Decimal = Decimal(0)) -> int:
    """What the shop may show: the ledger's available units less those this connection's orders
    hold (sold in the shop, not yet booked in the ledger), in whole units rounded down (a
    fractional ledger level never oversells)."""
    return math.floor(available - held)


def expected_shop_level(
    last_pushed: int | None, held_at_push: Decimal, held_now: Decimal
) -> int | None:
    """What the shop shows if only our pushes and its own sales (the held units) moved it since
    the last push; None before the first push."""
    if last_pushed is None:
        return None
    return math.floor(last_pushed - (held_now - held_at_push))


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
        if stocked[number].barred:
            continue
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
    PUSH = "push"  # set the shop's level to the ledger's free figure
    RECORD = "record"  # the shop already shows the free figure: remember it, no call
    UNCHANGED = "unchanged"
    REPORT = "report"  # the shop changed on its own: a difference for a person to resolve
    LOWER = "lower"  # ... and it shows more than is free: set it down, the difference stays open


def decide(
    target: int,
    expected: int | None,
    shop_level: int | None,
    *,
    difference_open: bool,
    ledger_always_wins: bool,
) -> Action:
    """What to do for one linked SKU.

    `target` is the ledger's free figure in shop units, `expected` what the shop would show had
    only our pushes and its own sales moved it (`expected_shop_level`), `shop_level` what it
    shows now (None: unknown, or not stocked at the location), `difference_open` whether a
    `level_differs` for the SKU awaits a person.

    The shop moved only as expected but the ledger did → push. The shop moved on its own, or a
    difference is open → the shop's figure stands until someone resolves it (unless the ledger
    always wins): it is only ever lowered, to the free figure, when it shows more than that.
    """
    if shop_level == target:
        return Action.UNCHANGED if expected == target else Action.RECORD
    if ledger_always_wins or shop_level is None:
        return Action.PUSH
    if difference_open or (expected is not None and shop_level != expected):
        return Action.LOWER if shop_level > target else Action.REPORT
    return Action.PUSH


def level_differs(sku: str, target: int, shop_level: int | None, *, lowered: bool) -> Mismatch:
    resolve = (
        f"Resolve it with POST /mismatches/level_differs/{sku}/resolve (keep the ledger's or the "
        "shop's figure)."
    )
    if lowered:
        message = (
            f"SKU {sku}: the shop showed {shop_level} available, more than the {target} the "
            f"ledger has free to sell; it was lowered to {target} so nothing is oversold. "
        )
    else:
        message = (
            f"SKU {sku}: the shop shows {shop_level} available, the ledger has {target} free to "
            "sell. The shop changed it itself; it is not overwritten. "
        )
    return Mismatch(
        MismatchKind.LEVEL_DIFFERS,
        sku,
        message + resolve,
        ledger_level=target,
        shop_level=shop_level,
    )


@dataclass(frozen=True)
class Pushed:
    """What we last set in the shop for a SKU, and the units held then."""

    last_pushed: int | None
    held_at_push: Decimal = Decimal(0)


@dataclass(frozen=True)
class Plan:
    push: tuple[tuple[Link, int], ...]  # (link, target), LOWER included
    record: tuple[tuple[Link, int], ...]
    unchanged: tuple[Link, ...]
    differs: tuple[Mismatch, ...]  # REPORT and LOWER
    untracked: tuple[Link, ...]  # linked, but the ledger reports no level


def plan_sync(
    links: Sequence[Link],
    ledger_levels: Mapping[str, Decimal | None],
    held: Mapping[str, Decimal],
    pushed: Mapping[str, Pushed],
    shop_levels: Mapping[str, int | None],
    open_differences: Set[str],
    *,
    ledger_always_wins: bool,
) -> Plan:
    """`ledger_levels` by product number; `held`, `pushed` and `open_differences` by SKU;
    `shop_levels` by inventory item id."""
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
        held_now = held.get(link.sku, Decimal(0))
        target = free_to_sell(available, held_now)
        last = pushed.get(link.sku, Pushed(None))
        shop_level = shop_levels.get(link.inventory_item_id)
        action = decide(
            target,
            expected_shop_level(last.last_pushed, last.held_at_push, held_now),
            shop_level,
            difference_open=link.sku in open_differences,
            ledger_always_wins=ledger_always_wins,
        )
        if action is Action.PUSH:
            push.append((link, target))
        elif action is Action.RECORD:
            record.append((link, target))
        elif action is Action.UNCHANGED:
            unchanged.append(link)
        else:
            lowered = action is Action.LOWER
            if lowered:
                push.append((link, target))
            differs.append(level_differs(link.sku, target, shop_level, lowered=lowered))
    return Plan(tuple(push), tuple(record), tuple(unchanged), tuple(differs), tuple(untracked))
