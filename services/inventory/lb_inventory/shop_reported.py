"""The shop says a level changed (Shopify inventory_levels/update, routed by ingest as
`stock.shop_reported`): compare with the ledger's free figure (available less the units held by
unbooked orders). Equal: nothing to do (an open difference the shop itself settled is cleared).
Moved on its own: reported for a person, or overwritten when the ledger always wins. A level
above what is free is lowered; the difference stays reported.

The ledger's figure is inventory's reading less what was booked since while that reading is
younger than the bound (`derived_stock.py`): the shop reports every sale it makes, and reading
the ledger for each would cost an e-conomic call per order again. An older one is read, and
kept as the new reading."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import select

from lb_common.db import utcnow
from lb_common.events import ShopStockReported
from lb_common.unit_of_work import UnitOfWork
from lb_connectors.ledgers import LedgerDirectory
from lb_connectors.shops import ShopDirectory
from lb_inventory.domain import Action, decide, expected_shop_level, free_to_sell, level_differs
from lb_inventory.holds import held_per_sku
from lb_inventory.shop_push import Wanted, compare_and_set
from lb_inventory.store import SkuLink, StockLevel
from lb_inventory.sync import (
    SyncLocks,
    load_settings,
    open_differences,
    set_level_mismatch,
)

log = logging.getLogger("lb_inventory.shop_reported")


async def handle_shop_reported(
    event: ShopStockReported,
    uow: UnitOfWork,
    *,
    ledgers: LedgerDirectory,
    shops: ShopDirectory,
    locks: SyncLocks,
    read_every: timedelta = timedelta(seconds=60),
) -> None:
    connection = uow.message.connection
    settings = await load_settings(uow, connection)
    if not settings.enabled or event.location_id != settings.location_id:
        return  # another location, or sync off: not ours to compare
    async with locks.push(connection):
        async with uow.session() as session:
            link = (
                await session.exec(
                    select(SkuLink).where(
                        SkuLink.connection == connection,
                        SkuLink.inventory_item_id == event.inventory_item_id,
                    )
                )
            ).first()
            held = await held_per_sku(session, connection, skus={link.sku} if link else ())
            open_row = (await open_differences(session, connection)).get(link.sku) if link else None
            reading = (
                await session.get(StockLevel, (connection, link.product_number)) if link else None
            )
        if link is None or (
            link.shop_reported_at is not None and event.updated_at <= link.shop_reported_at
        ):
            # Unknown item (the next catalogue scan reports it), or older than what we know.
            return
        read_at: datetime | None = utcnow()  # before the call: what was booked is in it
        if reading is not None and read_at is not None and reading.read_at > read_at - read_every:
            available = Decimal(reading.available) if reading.available is not None else None
            in_stock = None
            read_at = None  # nothing new to keep
        else:
            stock = await ledgers.ledger(connection).read_stock([link.product_number])
            read = stock.get(link.product_number)
            available = read.available if read is not None else None
            in_stock = read.on_hand if read is not None else None
        held_now = held.get(link.sku, Decimal(0))
        shop_level = event.available
        action: Action | None = None
        target: int | None = None
        if available is not None:
            target = free_to_sell(available, held_now)
            action = decide(
                target,
                expected_shop_level(link.last_pushed, Decimal(link.held_at_push), held_now),
                shop_level,
                difference_open=open_row is not None,
                ledger_always_wins=settings.ledger_always_wins,
            )
        pushed = False
        found = utcnow()  # a difference found now predates the push that lowers it
        if target is not None and action in (Action.PUSH, Action.LOWER):
            assert settings.location_id is not None
            # Set only over the figure just reported; if it moved again, that newer report
            # decides.
            done = await compare_and_set(
                shops.for_connection(connection),
                settings.location_id,
                [Wanted(link.sku, link.inventory_item_id, target, shop_level)],
            )
            pushed = link.sku in done.pushed
            if link.sku in done.moved:
                shop_level, action = done.moved[link.sku], Action.REPORT
        now = utcnow()
        async with uow.commit() as session:
            if read_at is not None:  # read now: the product's new reading
                level = await session.get(StockLevel, (connection, link.product_number))
                level = level or StockLevel(
                    connection=connection, product_number=link.product_number
                )
                level.available = str(available) if available is not None else None
                level.in_stock = str(in_stock) if in_stock is not None else None
                level.read_at, level.derived_at, level.sold_since_read = read_at, None, "0"
                session.add(level)
            row = await session.get(SkuLink, (connection, link.sku))
            if row is not None:
                row.shop_reported_at = event.updated_at
                row.ledger_level = str(available) if available is not None else row.ledger_level
                row.shop_level = shop_level
                if target is not None and (pushed or action is Action.RECORD):
                    row.shop_level = row.last_pushed = target
                    row.held_at_push = str(held_now)
                if pushed:
                    row.pushed_at = now
                session.add(row)
            if target is not None:
                if action in (Action.REPORT, Action.LOWER):
                    differs = level_differs(
                        link.sku, target, shop_level, lowered=action is Action.LOWER
                    )
                    await set_level_mismatch(session, connection, differs, link.sku, found_at=found)
                elif open_row is not None and (
                    settings.ledger_always_wins
                    or (
                        shop_level == target
                        and (link.pushed_at is None or link.pushed_at <= open_row.found_at)
                    )
                ):
                    # The shop settled it by itself (or the ledger always wins).
                    await set_level_mismatch(session, connection, None, link.sku)
    if pushed:
        log.info(
            "shop level set to the ledger's free figure",
            extra={"data": {"sku": link.sku, "shop": shop_level, "ledger": target}},
        )
