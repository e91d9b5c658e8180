"""An operator resolves a reported level difference (`level_differs`): a push never does.

- keep `ledger`: the shop's level is set to the ledger's free figure now, and the report closes.
- keep `shop`: the shop's figure is right and the bookkeeper has corrected the stock in the
  ledger to match (e-conomic's stock cannot be written through its API); the report closes
  only when the ledger's free figure now equals the shop's level, otherwise it stays and the
  answer says by how much they still differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from lb_common.db import Database, utcnow
from lb_common.errors import LedgerbridgeError
from lb_connectors.ledger import Ledger
from lb_connectors.shopify_admin import ShopifyGraphQLClient
from lb_inventory.domain import MismatchKind, free_to_sell
from lb_inventory.holds import held_per_sku
from lb_inventory.shop_push import Wanted, compare_and_set
from lb_inventory.store import MismatchRow, SkuLink
from lb_inventory.sync import SyncLocks, ledger_available, load_settings

Keep = Literal["ledger", "shop"]


class ResolveRefused(LedgerbridgeError):
    """The difference cannot be resolved this way (yet); `status` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Resolved:
    sku: str
    kept: Keep
    shop_level: int
    ledger_available: Decimal
    held: Decimal

    def as_dict(self) -> dict[str, object]:
        return {
            "sku": self.sku,
            "kept": self.kept,
            "shop_level": self.shop_level,
            "ledger_available": str(self.ledger_available),
            "held_by_unbooked_orders": str(self.held),
        }


async def resolve_difference(
    connection: str,
    sku: str,
    keep: Keep,
    *,
    db: Database,
    ledger: Ledger,
    shop: ShopifyGraphQLClient,
    locks: SyncLocks,
) -> Resolved:
    settings = await load_settings(db, connection)
    kind = MismatchKind.LEVEL_DIFFERS.value
    async with locks.push(connection):
        async with db.session() as session:
            row = await session.get(MismatchRow, (connection, kind, sku))
            link = await session.get(SkuLink, (connection, sku))
            held = (await held_per_sku(session, connection, skus={sku})).get(sku, Decimal(0))
        if row is None or link is None:
            raise ResolveRefused(404, f"SKU {sku} has no open stock difference on {connection!r}.")
        if not settings.enabled or not settings.location_id:
            raise ResolveRefused(409, f"Stock sync is off for connection {connection!r}.")
        available = await ledger_available(ledger, link.product_number)
        if available is None:
            raise ResolveRefused(
                409, f"Ledger product {link.product_number} keeps no stock any more."
            )
        target = free_to_sell(available, held)
        location = settings.location_id
        level = (await shop.levels([link.inventory_item_id], location)).get(link.inventory_item_id)
        if keep == "ledger":
            done = await compare_and_set(
                shop, location, [Wanted(sku, link.inventory_item_id, target, level)]
            )
            if sku not in done.pushed:
                raise ResolveRefused(
                    409,
                    f"SKU {sku}: the shop's figure changed while resolving "
                    f"({done.moved.get(sku, level)} available now) or the shop refused it "
                    f"({done.refused.get(sku, 'no reason given')}); resolve again.",
                )
            shop_level = target
        else:
            if level != target:
                raise ResolveRefused(
                    409,
                    f"SKU {sku}: the shop shows {level} available and the ledger has {target} "
                    f"free to sell ({available} available in e-conomic, {held} in shop orders "
                    "not yet booked). Correct product "
                    f"{link.product_number}'s stock in e-conomic to match the shop, then resolve "
                    "again; or keep the ledger's figure.",
                )
            shop_level = level
        now = utcnow()
        async with db.transaction() as session:
            stored = await session.get(SkuLink, (connection, sku))
            if stored is not None:
                stored.ledger_level = str(available)
                stored.shop_level = stored.last_pushed = shop_level
                stored.held_at_push = str(held)
                stored.pushed_at = now
                session.add(stored)
            open_row = await session.get(MismatchRow, (connection, kind, sku))
            if open_row is not None:
                await session.delete(open_row)
    return Resolved(sku, keep, shop_level, available, held)
