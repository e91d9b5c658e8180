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
from functools import partial

import sqlalchemy as sa
from sqlalchemy import Connection, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.connection_settings import stored_settings
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
    MismatchKind,
    decide,
    expected_shop_level,
    free_to_sell,
    level_differs,
)
from lb_inventory.holds import Change, count_changes, held_per_sku_sync, release_orders_sync
from lb_inventory.policy import StockSyncSettings
from lb_inventory.shop_push import Wanted, compare_and_set
from lb_inventory.store import MismatchRow, SkuLink, StockConnectionSettings, StockLevel
from lb_inventory.sync import SyncLocks, set_level_mismatch

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
    product_numbers = sorted(set().union(*(b.product_numbers for b in batch)))
    # The invoices take their orders' units from the ledger.
    sold = {b.order_key for b in batch if b.document == "sale"}
    outcome = Outcome()
    async with locks.push(connection):
        # Read (or derive) and push under the lock: a reading taken earlier never overwrites a
        # later one. What the batch needs from the database, in one read (plain Core).
        state = await lead.read_sync(partial(_batch_state, connection, product_numbers, sold))
        settings, known, links, held = state.settings, state.known, state.links, state.held
        readings = state.readings  # worked out once, not per product
        read = to_read(product_numbers, readings, utcnow(), read_every)
        read_at = utcnow()  # before the call: every booking in this batch is in the reading
        levels, others = await _read_levels(ledger, sorted(read)) if read else ({}, {})
        for number in sorted(set(product_numbers) - read):
            reading = readings[number]
            for booked in batch:
                if not in_reading(booked.booked_at, reading.read_at):
                    reading = reading.less(booked.taken.get(number, Decimal(0)))
            levels[number] = (reading.available, reading.in_stock)
        found = utcnow()  # a difference found now predates the push that lowers it
        if settings.enabled and settings.location_id:
            outcome = await _push_changed(
                links, levels, held, state.differences, settings, shops.for_connection(connection)
            )
        now = utcnow()
        if read or links or outcome.differs:
            # What the batch found, once (no inbox row: each message commits its own below; a
            # crash in between redelivers them, and all of this is written again the same way).
            async with lead.transaction() as session:
                await _keep_batch_findings(
                    session, connection, batch, levels, read, others, read_at, links, held,
                    settings, outcome, found, now,
                )  # fmt: skip
        # The figures derived rather than read, as last written: each document's units come
        # off them once, in its own commit (`_take_off`).
        derived = {n: known.get(n) for n in set(levels) - read}
        for booked in batch:
            try:
                async with booked.uow.commit() as session:
                    # With its inbox row: a redelivered document releases and takes off
                    # nothing twice. Released here, not for the batch: an order whose message
                    # fails stays held (the shop shown less) until its retry.
                    written = await _settle(session, connection, booked, derived)
                    _timeline(booked, levels, read, links, held, outcome)
            except Exception as exc:  # this message alone is retried
                booked.outcome.set_exception(exc)
            else:
                derived.update(written)
                booked.outcome.set_result(None)
    if outcome.skipped:
        log.warning("stock not set in the shop", extra={"data": {"skipped": outcome.skipped}})


@dataclass(frozen=True)
class Stored:
    """A product's `stock_levels` row as read: the figures a take-off sets only if they are
    still there (compare-and-set)."""

    available: str | None
    in_stock: str | None
    sold_since_read: str
    read_at: datetime

    @property
    def reading(self) -> Reading:
        return Reading(
            Decimal(self.available) if self.available is not None else None,
            Decimal(self.in_stock) if self.in_stock is not None else None,
            self.read_at,
        )

    def less(self, units: Decimal) -> Stored:
        after = self.reading.less(units)
        return Stored(
            str(after.available) if after.available is not None else None,
            str(after.in_stock) if after.in_stock is not None else None,
            str(Decimal(self.sold_since_read) + units),
            self.read_at,
        )


@dataclass(frozen=True)
class BatchState:
    settings: StockSyncSettings
    known: dict[str, Stored]
    links: list[SkuLink]
    held: dict[str, Decimal]
    differences: set[str]

    @property
    def readings(self) -> dict[str, Reading]:
        return {number: stored.reading for number, stored in self.known.items()}


_levels = StockLevel.__table__  # type: ignore[attr-defined]
_links = SkuLink.__table__  # type: ignore[attr-defined]
_mismatches = MismatchRow.__table__  # type: ignore[attr-defined]

# The statements of every batch and document, built once and run with their values as
# parameters: building one (and its cache key) per call cost more than running it.
_connection: sa.BindParameter[str] = sa.bindparam("of_connection")
_numbers: sa.BindParameter[list[str]] = sa.bindparam("numbers", expanding=True)
_STORED = sa.select(
    _levels.c.product_number,
    _levels.c.available,
    _levels.c.in_stock,
    _levels.c.sold_since_read,
    _levels.c.read_at,
).where(_levels.c.connection == _connection, _levels.c.product_number.in_(_numbers))
_LINKED = sa.select(_links).where(
    _links.c.connection == _connection, _links.c.product_number.in_(_numbers)
)
_DIFFERENCES = sa.select(_mismatches.c.key).where(
    _mismatches.c.connection == _connection,
    _mismatches.c.kind == MismatchKind.LEVEL_DIFFERS.value,
)


def _batch_state(
    connection: str, product_numbers: list[str], sold: set[str], db: Connection
) -> BatchState:
    """The settings, the known figures and links of the batch's products, and (with links) the
    units held and the open differences: plain Core in one read transaction (`read_sync`)."""
    of = {"of_connection": connection, "numbers": product_numbers}
    settings = StockSyncSettings.model_validate(
        stored_settings(StockConnectionSettings, connection, db)
    )
    known = {
        row.product_number: Stored(row.available, row.in_stock, row.sold_since_read, row.read_at)
        for row in db.execute(_STORED, of)
    }
    links = [SkuLink(**row._mapping) for row in db.execute(_LINKED, of)]
    if not links:
        return BatchState(settings, known, [], {}, set())
    # Only the linked SKUs' figures are pushed (and shown on the timeline). The ledger's level
    # includes the sold orders' units: they are held no longer.
    held = held_per_sku_sync(db, connection, skus={link.sku for link in links}, except_orders=sold)
    differences = set(db.execute(_DIFFERENCES, of).scalars())
    return BatchState(settings, known, links, held, differences)


async def _keep_batch_findings(
    session: AsyncSession,
    connection: str,
    batch: list[Booked],
    levels: Levels,
    read: set[str],
    others: Levels,
    read_at: datetime,
    links: list[SkuLink],
    held: dict[str, Decimal],
    settings: StockSyncSettings,
    outcome: Outcome,
    found: datetime,
    now: datetime,
) -> None:
    """The readings taken, the links' levels and what was pushed, and the differences found."""
    for number in sorted(read):
        # Kept also for a product that keeps no stock (not listed under /stock), so it is not
        # read again at its next sale.
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


#: Tries of one take-off's compare-and-set before the message fails (and is retried): each
#: failed try means another writer changed the row in between, which under the push lock
#: only a full sync's catalogue figures can.
TAKE_OFF_TRIES = 5


async def _settle(
    session: AsyncSession, connection: str, booked: Booked, derived: dict[str, Stored | None]
) -> dict[str, Stored | None]:
    """In the document's own commit, in one go (plain Core): an invoice's order holds its units
    no longer, and the document's units come off the figures this batch derived rather than read
    (a reading taken in this batch counts them already), by one compare-and-set UPDATE per
    product over the figures as last written (`derived`), none read first. The figures written,
    by product."""
    changes = [
        (number, units)
        for number, units in sorted(booked.taken.items())
        if number in derived and units
    ]
    sale = booked.document == "sale"
    if not changes and not sale:
        return {}

    def work(db: Connection) -> tuple[dict[str, Change], dict[str, Stored | None]]:
        released = release_orders_sync(db, connection, [booked.order_key], "booked") if sale else {}
        return released, _take_off_sync(connection, booked, derived, changes, db)

    released, written = await (await session.connection()).run_sync(work)
    count_changes(session, connection, released)  # the held totals, written at the commit
    return written


def _take_off_sync(
    connection: str,
    booked: Booked,
    derived: dict[str, Stored | None],
    changes: list[tuple[str, Decimal]],
    db: Connection,
) -> dict[str, Stored | None]:
    written: dict[str, Stored | None] = {}
    now = utcnow()
    for number, units in changes:
        seen = derived[number]
        for _ in range(TAKE_OFF_TRIES):
            if seen is None or in_reading(booked.booked_at, seen.read_at):
                break  # gone, or a reading that counts this document already
            after = seen.less(units)
            changed = db.execute(
                _TAKE_OFF,
                {
                    "of_connection": connection,
                    "number": number,
                    "seen_read_at": seen.read_at,
                    "seen_sold": seen.sold_since_read,
                    "seen_available": seen.available,
                    "seen_in_stock": seen.in_stock,
                    "to_available": after.available,
                    "to_in_stock": after.in_stock,
                    "to_sold": after.sold_since_read,
                    "order_key": booked.order_key,
                    "now": now,
                },
            )
            if changed.rowcount == 1:
                seen = after
                break
            seen = _stored(db, connection, number)  # changed meanwhile: over it as it is now
        else:
            raise RuntimeError(
                f"the stock figure of {number!r} kept changing; the document is retried"
            )
        written[number] = seen
    return written


#: The compare-and-set of a take-off: the row only if it still holds the figures `seen`
#: (IS NOT DISTINCT FROM: a product that keeps no stock has NULL figures).
_TAKE_OFF = (
    update(_levels)
    .where(
        _levels.c.connection == _connection,
        _levels.c.product_number == sa.bindparam("number"),
        _levels.c.read_at == sa.bindparam("seen_read_at"),
        _levels.c.sold_since_read == sa.bindparam("seen_sold"),
        _levels.c.available.is_not_distinct_from(sa.bindparam("seen_available")),
        _levels.c.in_stock.is_not_distinct_from(sa.bindparam("seen_in_stock")),
    )
    .values(
        available=sa.bindparam("to_available"),
        in_stock=sa.bindparam("to_in_stock"),
        sold_since_read=sa.bindparam("to_sold"),
        last_order_key=sa.bindparam("order_key"),
        derived_at=sa.bindparam("now"),
    )
)
_ONE_STORED = sa.select(
    _levels.c.available, _levels.c.in_stock, _levels.c.sold_since_read, _levels.c.read_at
).where(_levels.c.connection == _connection, _levels.c.product_number == sa.bindparam("number"))


def _stored(db: Connection, connection: str, number: str) -> Stored | None:
    row = db.execute(_ONE_STORED, {"of_connection": connection, "number": number}).first()
    return Stored(row.available, row.in_stock, row.sold_since_read, row.read_at) if row else None


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
