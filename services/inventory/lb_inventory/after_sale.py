"""After an invoice or a credit note is booked: read the ledger's stock for the products on it,
and, when stock sync is on, set the shop's level for the linked SKUs whose level moved, so the
shop follows within seconds instead of at the next full sync."""

from __future__ import annotations

import logging
from decimal import Decimal

from sqlmodel import col, select

from lb_common import inbox
from lb_common.db import Database, utcnow
from lb_common.envelope import Envelope
from lb_common.errors import PermanentError
from lb_common.events import BookedLine, CreditNoteBooked, InvoiceBooked
from lb_common.outbox import report_progress
from lb_connectors.economic.client import EconomicClient
from lb_connectors.ledgers import LedgerDirectory
from lb_connectors.shopify_admin import ShopifyAdminClient
from lb_connectors.shops import ShopDirectory
from lb_inventory.domain import shop_quantity
from lb_inventory.store import SkuLink, StockLevel
from lb_inventory.sync import SyncLocks, load_settings, set_level_mismatch

SERVICE = "inventory"
log = logging.getLogger("lb_inventory.after_sale")

Levels = dict[str, tuple[Decimal | None, Decimal | None]]


async def _read_levels(client: EconomicClient, product_numbers: list[str]) -> Levels:
    levels: Levels = {}
    for number in product_numbers:
        product = await client.get_product(number)
        inventory = product.inventory if product is not None else None
        levels[number] = (
            inventory.available if inventory else None,
            inventory.in_stock if inventory else None,
        )
    return levels


async def _push_changed(
    connection: str, levels: Levels, location_id: str, *, db: Database, shop: ShopifyAdminClient
) -> tuple[dict[str, int], list[str]]:
    """Set the shop's level of each linked SKU whose ledger level differs from the last push."""
    async with db.session() as session:
        links = (
            await session.exec(
                select(SkuLink).where(
                    SkuLink.connection == connection,
                    col(SkuLink.product_number).in_(list(levels)),
                )
            )
        ).all()
    pushed: dict[str, int] = {}
    skipped: list[str] = []
    for link in links:
        available = levels[link.product_number][0]
        if available is None:
            continue
        target = shop_quantity(available)
        if target == link.last_pushed:
            continue
        try:
            await shop.set_level(
                location_id=location_id, inventory_item_id=link.inventory_item_id, available=target
            )
        except PermanentError as exc:
            # The item went away in the shop: the next full sync rebuilds the links.
            skipped.append(f"{link.sku}: {exc.reason}")
            continue
        pushed[link.sku] = target
    return pushed, skipped


async def _follow(
    envelope: Envelope,
    lines: tuple[BookedLine, ...],
    order_key: str,
    document: str,
    *,
    db: Database,
    ledgers: LedgerDirectory,
    shops: ShopDirectory,
    locks: SyncLocks,
) -> None:
    connection = envelope.connection
    client = ledgers.for_connection(connection)
    settings = await load_settings(db, connection)
    product_numbers = sorted({line.product_number for line in lines})
    pushed: dict[str, int] = {}
    skipped: list[str] = []
    async with locks.push(connection):
        # Read and push under the lock: a reading taken earlier never overwrites a later one.
        levels = await _read_levels(client, product_numbers)
        if settings.enabled and settings.location_id:
            pushed, skipped = await _push_changed(
                connection,
                levels,
                settings.location_id,
                db=db,
                shop=shops.for_connection(connection),
            )
        now = utcnow()
        async with db.transaction() as session:
            for number, (available, in_stock) in levels.items():
                row = await session.get(StockLevel, (connection, number))
                if row is None:
                    row = StockLevel(connection=connection, product_number=number)
                row.available = str(available) if available is not None else None
                row.in_stock = str(in_stock) if in_stock is not None else None
                row.last_order_key = order_key
                row.read_at = now
                session.add(row)
            for sku, target in pushed.items():
                link = await session.get(SkuLink, (connection, sku))
                if link is not None:
                    link.last_pushed = link.shop_level = target
                    link.ledger_level = str(levels[link.product_number][0])
                    link.pushed_at = now
                    session.add(link)
                await set_level_mismatch(session, connection, None, sku)
            tracked = {n: a for n, (a, _) in levels.items() if a is not None}
            summary = ", ".join(f"{n}: {a} available" for n, a in tracked.items())
            message = (
                f"Stock read from e-conomic after the {document} ({summary})."
                if tracked
                else f"No stock-tracked products on this {document}."
            )
            if pushed:
                message += " Shop stock set: " + ", ".join(
                    f"{sku} → {n}" for sku, n in sorted(pushed.items())
                )
                message += "."
            report_progress(
                session,
                service=SERVICE,
                step="stock.read",
                message=message,
                details={
                    "levels": {
                        n: str(a) if a is not None else None for n, (a, _) in levels.items()
                    },
                    "pushed": pushed,
                    "skipped": skipped,
                },
                caused_by=envelope,
                order_key=order_key,
            )
            inbox.mark_handled(session, SERVICE, envelope.message_id)
    if skipped:
        log.warning("stock not set in the shop", extra={"data": {"skipped": skipped}})


async def handle_invoice_booked(
    envelope: Envelope,
    *,
    db: Database,
    ledgers: LedgerDirectory,
    shops: ShopDirectory,
    locks: SyncLocks,
) -> None:
    event = envelope.parse(InvoiceBooked)
    await _follow(
        envelope,
        event.lines,
        event.order_key,
        "sale",
        db=db,
        ledgers=ledgers,
        shops=shops,
        locks=locks,
    )


async def handle_creditnote_booked(
    envelope: Envelope,
    *,
    db: Database,
    ledgers: LedgerDirectory,
    shops: ShopDirectory,
    locks: SyncLocks,
) -> None:
    event = envelope.parse(CreditNoteBooked)
    await _follow(
        envelope,
        event.lines,
        event.order_key,
        "credit note",
        db=db,
        ledgers=ledgers,
        shops=shops,
        locks=locks,
    )
