"""After an invoice or a credit note is booked: the ledger's stock for the products on it (read,
or worked out from a recent reading and the document's lines: `derived_stock.py`), release the
units the order held (the ledger counts them now), and, when stock sync is on, set the shop's
level for the linked SKUs whose free figure moved, so the shop follows within seconds instead of
at the next full sync."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.db import utcnow
from lb_common.events import BookedLine, CreditNoteBooked, InvoiceBooked
from lb_common.unit_of_work import UnitOfWork
from lb_connectors.ledger import Ledger
from lb_connectors.ledgers import LedgerDirectory
from lb_connectors.shopify_admin import ShopifyGraphQLClient
from lb_connectors.shops import ShopDirectory
from lb_inventory.derived_stock import Reading, in_reading, to_read, units_taken
from lb_inventory.domain import (
    Action,
    Mismatch,
    decide,
    expected_shop_level,
    free_to_sell,
    level_differs,
)
from lb_inventory.holds import held_per_sku, release_orders
from lb_inventory.policy import StockSyncSettings
from lb_inventory.shop_push import Wanted, compare_and_set
from lb_inventory.store import SkuLink, StockLevel
from lb_inventory.sync import (
    SyncLocks,
    load_settings,
    open_differences,
    set_level_mismatch,
)

log = logging.getLogger("lb_inventory.after_sale")

Levels = dict[str, tuple[Decimal | None, Decimal | None]]


async def _read_levels(ledger: Ledger, product_numbers: list[str]) -> tuple[Levels, Levels]:
    """(available, in stock) per product; (None, None) for one that keeps no stock or is gone.
    A document's products in one read (the adapter batches them). Second: the other products
    the same call returned (a small catalogue is read whole), kept as readings too."""
    found = await ledger.read_stock(product_numbers)
    levels: Levels = {}
    for number in product_numbers:
        level = found.get(number)
        levels[number] = (level.available, level.on_hand) if level else (None, None)
    others = {
        number: (level.available, level.on_hand)
        for number, level in found.items()
        if number not in levels
    }
    return levels, others


@dataclass
class Outcome:
    pushed: dict[str, int] = field(default_factory=dict)
    differs: dict[str, Mismatch] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


async def _push_changed(
    links: list[SkuLink],
    levels: Levels,
    held: dict[str, Decimal],
    differences: set[str],
    settings: StockSyncSettings,
    shop: ShopifyGraphQLClient,
) -> Outcome:
    """Set the shop's level of each linked SKU whose free figure moved, as `domain.decide` says:
    never over a difference that awaits a person, except to lower a level above what is free.
    Each level is set only if the shop still shows the figure we last saw (compare-and-set): one
    that moved meanwhile (a sale) is reported, not overwritten."""
    assert settings.location_id is not None
    outcome = Outcome()
    wanted: list[Wanted] = []
    for link in links:
        available = levels[link.product_number][0]
        if available is None:
            continue
        held_now = held.get(link.sku, Decimal(0))
        target = free_to_sell(available, held_now)
        action = decide(
            target,
            expected_shop_level(link.last_pushed, Decimal(link.held_at_push), held_now),
            link.shop_level,
            difference_open=link.sku in differences,
            ledger_always_wins=settings.ledger_always_wins,
        )
        if action in (Action.REPORT, Action.LOWER):
            outcome.differs[link.sku] = level_differs(
                link.sku, target, link.shop_level, lowered=action is Action.LOWER
            )
        if action in (Action.PUSH, Action.LOWER):
            wanted.append(Wanted(link.sku, link.inventory_item_id, target, link.shop_level))
    pushed = await compare_and_set(shop, settings.location_id, wanted)
    outcome.pushed = pushed.pushed
    targets = {w.sku: w.target for w in wanted}
    for sku, shop_now in pushed.moved.items():
        outcome.differs[sku] = level_differs(sku, targets[sku], shop_now, lowered=False)
    # The item went away in the shop: the next full sync rebuilds the links.
    outcome.skipped = [f"{sku}: {reason}" for sku, reason in pushed.refused.items()]
    return outcome


@dataclass
class Booked:
    """One booked document waiting to be followed, and its handler waiting for the outcome."""

    uow: UnitOfWork
    lines: tuple[BookedLine, ...]
    order_key: str
    document: str  # "sale" or "credit note"
    outcome: asyncio.Future[None]

    @property
    def product_numbers(self) -> set[str]:
        return {line.product_number for line in self.lines}

    @property
    def booked_at(self) -> datetime:
        """When invoicing recorded the booking (after the ledger answered it)."""
        return self.uow.message.occurred_at

    @property
    def taken(self) -> dict[str, Decimal]:
        return units_taken(self.lines, self.document)


class Followers:
    """Follows booked documents per connection, in batches.

    Every document needs the same steps under the connection's push lock: read the ledger's
    stock of its products, the units held, the links, then set the shop's levels. Documents
    booked while one batch runs wait together and go as the next batch: one ledger read, one
    held-units read and one shop write for all of them, then each message commits its own
    timeline entry. A batch forms only from what is already waiting (nothing waits for company),
    so one document alone goes at once. With one read per document, a 429 from the ledger (its
    `Retry-After`) held the lock for a second per document, and the 10,000-order chaos run left
    inventory 18,471 messages behind.

    A batch that fails (the ledger or the shop unavailable) fails every message in it; each is
    retried on its own schedule."""

    def __init__(
        self,
        *,
        ledgers: LedgerDirectory,
        shops: ShopDirectory,
        locks: SyncLocks,
        read_every: timedelta = timedelta(seconds=60),
    ) -> None:
        self._ledgers, self._shops, self._locks = ledgers, shops, locks
        # How long a reading of a product's stock serves, less what we booked since.
        self._read_every = read_every
        self._waiting: defaultdict[str, list[Booked]] = defaultdict(list)
        self._turn: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def follow(
        self, uow: UnitOfWork, lines: tuple[BookedLine, ...], order_key: str, document: str
    ) -> None:
        connection = uow.message.connection
        booked = Booked(uow, lines, order_key, document, asyncio.get_running_loop().create_future())
        self._waiting[connection].append(booked)
        async with self._turn[connection]:
            if not booked.outcome.done():  # not taken by the batch before: lead the next one
                batch, self._waiting[connection] = self._waiting[connection], []
                await self._run(connection, batch)
        await booked.outcome  # its result, or the batch's error

    async def _run(self, connection: str, batch: list[Booked]) -> None:
        try:
            await _follow_batch(
                connection,
                batch,
                ledgers=self._ledgers,
                shops=self._shops,
                locks=self._locks,
                read_every=self._read_every,
            )
        except Exception as exc:
            for booked in batch:
                if not booked.outcome.done():
                    booked.outcome.set_exception(exc)
        except BaseException:  # cancelled: the others' messages are redelivered
            for booked in batch:
                booked.outcome.cancel()
            raise
        for booked in batch:
            if not booked.outcome.done():
                booked.outcome.set_result(None)


async def _follow_batch(
    connection: str,
    batch: list[Booked],
    *,
    ledgers: LedgerDirectory,
    shops: ShopDirectory,
    locks: SyncLocks,
    read_every: timedelta,
) -> None:
    lead = batch[0].uow
    ledger = ledgers.ledger(connection)
    settings = await load_settings(lead, connection)
    product_numbers = sorted(set().union(*(b.product_numbers for b in batch)))
    # The invoices take their orders' units from the ledger.
    sold = {b.order_key for b in batch if b.document == "sale"}
    outcome = Outcome()
    async with locks.push(connection):
        # Read (or derive) and push under the lock: a reading taken earlier never overwrites a
        # later one, and each booking's units come off a figure once.
        async with lead.session() as session:
            known = await _known_readings(session, connection, product_numbers)
            links = list(
                (
                    await session.exec(
                        select(SkuLink).where(
                            SkuLink.connection == connection,
                            col(SkuLink.product_number).in_(product_numbers),
                        )
                    )
                ).all()
            )
            # Only the linked SKUs' figures are pushed (and shown on the timeline). The ledger's
            # level includes the sold orders' units: they are held no longer.
            held = await held_per_sku(
                session, connection, skus={link.sku for link in links}, except_orders=sold
            )
            differences = set(await open_differences(session, connection)) if links else set()
        read = to_read(product_numbers, known, utcnow(), read_every)
        read_at = utcnow()  # before the call: every booking in this batch is in the reading
        levels, others = await _read_levels(ledger, sorted(read)) if read else ({}, {})
        for number in sorted(set(product_numbers) - read):
            reading = known[number]
            for booked in batch:
                if not in_reading(booked.booked_at, reading.read_at):
                    reading = reading.less(booked.taken.get(number, Decimal(0)))
            levels[number] = (reading.available, reading.in_stock)
        found = utcnow()  # a difference found now predates the push that lowers it
        if settings.enabled and settings.location_id:
            outcome = await _push_changed(
                links, levels, held, differences, settings, shops.for_connection(connection)
            )
        now = utcnow()
        # What the batch found, once (no inbox row: each message commits its own below; a
        # crash in between redelivers them, and all of this is written again the same way).
        async with lead.transaction() as session:
            await release_orders(session, connection, sold, "booked")
            for number in sorted(read):
                # Kept also for a product that keeps no stock (not listed under /stock), so it
                # is not read again at its next sale.
                available, in_stock = levels[number]
                row = await session.get(StockLevel, (connection, number))
                if row is None:
                    row = StockLevel(connection=connection, product_number=number)
                row.available = str(available) if available is not None else None
                row.in_stock = str(in_stock) if in_stock is not None else None
                row.last_order_key = [b for b in batch if number in b.product_numbers][-1].order_key
                row.read_at, row.derived_at, row.sold_since_read = read_at, None, "0"
                session.add(row)
            await _keep_readings(session, connection, others, read_at)
            for link in links:
                row_link = await session.get(SkuLink, (connection, link.sku))
                if row_link is None:
                    continue
                available = levels[link.product_number][0]
                if available is not None:
                    row_link.ledger_level = str(available)
                if link.sku in outcome.pushed:
                    row_link.last_pushed = row_link.shop_level = outcome.pushed[link.sku]
                    row_link.held_at_push = str(held.get(link.sku, Decimal(0)))
                    row_link.pushed_at = now
                    if settings.ledger_always_wins:
                        await set_level_mismatch(session, connection, None, link.sku)
                session.add(row_link)
            for sku, mismatch in outcome.differs.items():
                await set_level_mismatch(session, connection, mismatch, sku, found_at=found)
        for booked in batch:
            try:
                async with booked.uow.commit() as session:
                    # With its inbox row: a redelivered document takes nothing off twice.
                    await _take_off(session, connection, booked, derived=set(levels) - read)
                    _timeline(booked, levels, read, links, held, outcome)
            except Exception as exc:  # this message alone is retried
                booked.outcome.set_exception(exc)
            else:
                booked.outcome.set_result(None)
    if outcome.skipped:
        log.warning("stock not set in the shop", extra={"data": {"skipped": outcome.skipped}})


async def _known_readings(
    session: AsyncSession, connection: str, product_numbers: list[str]
) -> dict[str, Reading]:
    rows = (
        await session.exec(
            select(StockLevel).where(
                StockLevel.connection == connection,
                col(StockLevel.product_number).in_(product_numbers),
            )
        )
    ).all()
    return {
        row.product_number: Reading(
            Decimal(row.available) if row.available is not None else None,
            Decimal(row.in_stock) if row.in_stock is not None else None,
            row.read_at,
        )
        for row in rows
    }


async def _keep_readings(
    session: AsyncSession, connection: str, others: Levels, read_at: datetime
) -> None:
    """The readings of products not on these documents that the same call returned: their next
    sale within the bound needs no read."""
    if not others:
        return
    rows = {
        row.product_number: row
        for row in (
            await session.exec(
                select(StockLevel).where(
                    StockLevel.connection == connection,
                    col(StockLevel.product_number).in_(list(others)),
                )
            )
        ).all()
    }
    for number, (available, in_stock) in others.items():
        row = rows.get(number) or StockLevel(connection=connection, product_number=number)
        row.available = str(available) if available is not None else None
        row.in_stock = str(in_stock) if in_stock is not None else None
        row.read_at, row.derived_at, row.sold_since_read = read_at, None, "0"
        session.add(row)


async def _take_off(
    session: AsyncSession, connection: str, booked: Booked, derived: set[str]
) -> None:
    """The document's units off the figures this batch derived rather than read (a reading
    taken in this batch counts them already)."""
    for number, units in sorted(booked.taken.items()):
        if number not in derived or not units:
            continue
        row = await session.get(StockLevel, (connection, number))
        if row is None or in_reading(booked.booked_at, row.read_at):
            continue
        reading = Reading(
            Decimal(row.available) if row.available is not None else None,
            Decimal(row.in_stock) if row.in_stock is not None else None,
            row.read_at,
        ).less(units)
        row.available = str(reading.available) if reading.available is not None else None
        row.in_stock = str(reading.in_stock) if reading.in_stock is not None else None
        row.sold_since_read = str(Decimal(row.sold_since_read) + units)
        row.last_order_key = booked.order_key
        row.derived_at = utcnow()
        session.add(row)


def _timeline(
    booked: Booked,
    levels: Levels,
    read: set[str],
    links: list[SkuLink],
    held: dict[str, Decimal],
    outcome: Outcome,
) -> None:
    """The document's `stock.read` entry: its own products' figures."""
    mine = booked.product_numbers
    tracked = {n: a for n, (a, _) in levels.items() if a is not None and n in mine}
    skus = {link.sku for link in links if link.product_number in mine}
    pushed = {sku: n for sku, n in outcome.pushed.items() if sku in skus}
    summary = ", ".join(f"{n}: {a} available" for n, a in tracked.items())
    message = (
        f"Stock {'read from' if mine & read else 'worked out from the last reading of'} the"
        f" ledger after the {booked.document} ({summary})."
        if tracked
        else f"No stock-tracked products on this {booked.document}."
    )
    if pushed:
        message += " Shop stock set: " + ", ".join(
            f"{sku} → {n}" for sku, n in sorted(pushed.items())
        )
        message += "."
    kept = sorted((set(outcome.differs) - set(outcome.pushed)) & skus)
    if kept:
        message += (
            " Not set, the shop's own figure differs and awaits a person: " + ", ".join(kept) + "."
        )
    booked.uow.progress(
        "stock.read",
        message,
        {
            "levels": {n: str(a) for n, a in tracked.items()},
            # Read from the ledger now; the others are the last reading less what was booked.
            "read": sorted(n for n in tracked if n in read),
            "held": {sku: str(q) for sku, q in sorted(held.items()) if sku in skus},
            "pushed": pushed,
            "differs": kept,
            "skipped": [s for s in outcome.skipped if s.split(":", 1)[0] in skus],
        },
        order_key=booked.order_key,
    )


async def handle_invoice_booked(
    event: InvoiceBooked, uow: UnitOfWork, *, followers: Followers
) -> None:
    await followers.follow(uow, event.lines, event.order_key, "sale")


async def handle_creditnote_booked(
    event: CreditNoteBooked, uow: UnitOfWork, *, followers: Followers
) -> None:
    await followers.follow(uow, event.lines, event.order_key, "credit note")
