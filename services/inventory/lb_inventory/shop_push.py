"""Setting the shop's `available` by compare-and-set, for every path that writes stock (full
sync, after a sale, a shop report, resolving a difference).

Each quantity goes with the figure we expect the shop to show now. When the shop's figure moved
in between (a sale in the shop while we were reading the ledger), Shopify refuses that quantity
(CHANGE_FROM_QUANTITY_STALE) and the others are written: the refused one is read again and
comes back as `moved`, for the caller to report as a level difference. It is never written
blind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lb_connectors.shopify_admin import QuantityChange, ShopifyGraphQLClient
from lb_connectors.shopify_admin.gids import number


@dataclass(frozen=True)
class Wanted:
    sku: str
    inventory_item_id: str  # number
    target: int
    expected: int | None  # what we believe the shop shows now; None: unknown (no check)


@dataclass
class PushOutcome:
    pushed: dict[str, int] = field(default_factory=dict)  # sku → level set
    moved: dict[str, int | None] = field(default_factory=dict)  # sku → the shop's figure now
    refused: dict[str, str] = field(default_factory=dict)  # sku → Shopify's reason


async def compare_and_set(
    shop: ShopifyGraphQLClient,
    location_id: str,
    wanted: Sequence[Wanted],
    *,
    reference: str | None = None,
) -> PushOutcome:
    outcome = PushOutcome()
    if not wanted:
        return outcome
    by_item = {w.inventory_item_id: w for w in wanted}
    result = await shop.set_quantities(
        [QuantityChange(w.inventory_item_id, location_id, w.target, w.expected) for w in wanted],
        reference=reference,
    )
    for change in result.applied:
        w = by_item[number(change.inventory_item_id)]
        outcome.pushed[w.sku] = w.target
    for change, reason in result.refused:
        outcome.refused[by_item[number(change.inventory_item_id)].sku] = reason
    if result.stale:
        items = [number(c.inventory_item_id) for c in result.stale]
        now = await shop.levels(items, location_id)
        for item in items:
            outcome.moved[by_item[item].sku] = now.get(item)
    return outcome
