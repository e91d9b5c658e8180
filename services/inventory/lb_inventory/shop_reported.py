"""The shop says a level changed (Shopify inventory_levels/update, routed by ingest as
`stock.shop_reported`): compare with the ledger. Equal: nothing to do. Different: reported as a
mismatch, or, when the connection says the ledger always wins, overwritten with the ledger's."""

from __future__ import annotations

import logging

from sqlmodel import select

from lb_common import inbox
from lb_common.db import Database, utcnow
from lb_common.envelope import Envelope
from lb_common.events import ShopStockReported
from lb_connectors.ledgers import LedgerDirectory
from lb_connectors.shops import ShopDirectory
from lb_inventory.domain import level_differs, shop_quantity
from lb_inventory.store import SkuLink
from lb_inventory.sync import SyncLocks, load_settings, set_level_mismatch

SERVICE = "inventory"
log = logging.getLogger("lb_inventory.shop_reported")


async def _done(db: Database, envelope: Envelope) -> None:
    async with db.transaction() as session:
        inbox.mark_handled(session, SERVICE, envelope.message_id)


async def handle_shop_reported(
    envelope: Envelope,
    *,
    db: Database,
    ledgers: LedgerDirectory,
    shops: ShopDirectory,
    locks: SyncLocks,
) -> None:
    event = envelope.parse(ShopStockReported)
    connection = envelope.connection
    settings = await load_settings(db, connection)
    if not settings.enabled or event.location_id != settings.location_id:
        await _done(db, envelope)  # another location, or sync off: not ours to compare
        return
    async with locks.push(connection):
        async with db.session() as session:
            link = (
                await session.exec(
                    select(SkuLink).where(
                        SkuLink.connection == connection,
                        SkuLink.inventory_item_id == event.inventory_item_id,
                    )
                )
            ).first()
        if link is None or (
            link.shop_reported_at is not None and event.updated_at <= link.shop_reported_at
        ):
            # Unknown item (the next catalogue scan reports it), or older than what we know.
            await _done(db, envelope)
            return
        product = await ledgers.for_connection(connection).get_product(link.product_number)
        available = product.inventory.available if product and product.inventory else None
        target = shop_quantity(available) if available is not None else None
        shop_level = event.available
        pushed = False
        if target is not None and shop_level != target and settings.ledger_always_wins:
            await shops.for_connection(connection).set_level(
                location_id=settings.location_id,
                inventory_item_id=link.inventory_item_id,
                available=target,
            )
            pushed = True
        async with db.transaction() as session:
            row = await session.get(SkuLink, (connection, link.sku))
            if row is not None:
                row.shop_reported_at = event.updated_at
                row.ledger_level = str(available) if available is not None else row.ledger_level
                if pushed:
                    row.shop_level = row.last_pushed = target
                    row.pushed_at = utcnow()
                else:
                    row.shop_level = shop_level
                session.add(row)
            if target is not None:
                differs = (
                    None
                    if pushed or shop_level == target
                    else level_differs(link.sku, target, shop_level)
                )
                await set_level_mismatch(session, connection, differs, link.sku)
            inbox.mark_handled(session, SERVICE, envelope.message_id)
    if pushed:
        log.info(
            "shop level overwritten with the ledger's",
            extra={"data": {"sku": link.sku, "shop": shop_level, "ledger": target}},
        )
