"""Catalogue scan and full sync: plain async functions over explicit dependencies (the ledger
client, the shop client, the database). The decisions are made by `domain.py`.

The shop is read by one bulk operation (variants, SKUs, inventory items and their levels) and
written by compare-and-set (`shop_push.py`): a level that moved in the shop after the bulk read
(a sale during the sync) is not overwritten but reported as a level difference.

Concurrency, across every replica of inventory (`SyncLocks`, leases in the database): one full
sync per connection at a time, and writes to one connection's shop levels (a full sync's push
phase, the after-sale follow-up, shop reports, held units, resolving a difference) one at a
time, so an older ledger reading never overwrites a newer one. A full sync skips SKUs that were
pushed after it started reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common import connection_settings, leases
from lb_common.db import Database, utcnow
from lb_common.errors import Contention, LedgerbridgeError
from lb_common.unit_of_work import Sessions
from lb_connectors.ledger import Ledger
from lb_connectors.shopify_admin import ShopifyGraphQLClient, VariantStock
from lb_connectors.shopify_admin.gids import gid, number
from lb_inventory.domain import (
    CatalogueScan,
    LedgerItem,
    Mismatch,
    MismatchKind,
    Pushed,
    ShopItem,
    level_differs,
    link_catalogues,
    plan_sync,
)
from lb_inventory.holds import forget_released, held_per_sku
from lb_inventory.policy import StockSyncSettings
from lb_inventory.shop_push import Wanted, compare_and_set
from lb_inventory.store import (
    MismatchRow,
    SkuLink,
    StockConnectionSettings,
    StockLevel,
    SyncRun,
)

log = logging.getLogger("lb_inventory.sync")


class SyncRunning(LedgerbridgeError):
    """A full sync of the connection is already running, on this replica or another."""


class SyncInterrupted(LedgerbridgeError):
    """The full sync was stopped because its lease could not be renewed in time."""


#: A replica that dies holding a lease stops renewing it; another takes it over after this.
LEASE_TTL_SECONDS = 15.0
#: How long a push waits for another replica's push before it is retried later instead.
PUSH_WAIT_SECONDS = 30.0


class SyncLocks:
    """Per-connection exclusion shared by every replica of inventory (leases in its database,
    lb_common/leases.py; a replica that dies holding one frees it within `ttl` seconds):

    - `full(c)`: one full sync of a connection at a time (lease `inventory.sync:<c>`). While
      one runs, another is refused with `SyncRunning`, not queued behind it.
    - `push(c)`: one writer of the connection's shop levels at a time (lease
      `inventory.push:<c>`). Waits up to `push_wait` seconds for another replica, then raises
      `Contention` (a message is retried shortly).

    An asyncio lock per connection in front of each lease keeps the coroutines of one replica
    from polling the database for each other.
    """

    def __init__(
        self,
        db: Database,
        *,
        ttl: float = LEASE_TTL_SECONDS,
        push_wait: float = PUSH_WAIT_SECONDS,
    ) -> None:
        self._db = db
        self._ttl = ttl
        self._push_wait = push_wait
        self._push: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._full: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @contextlib.asynccontextmanager
    async def push(self, connection: str) -> AsyncIterator[None]:
        name = f"inventory.push:{connection}"
        async with self._push[connection]:
            try:
                async with leases.holding(
                    self._db, name, leases.new_holder("inventory"), ttl=self._ttl,
                    wait=self._push_wait,
                ):  # fmt: skip
                    yield
            except leases.LeaseBusy as exc:
                raise Contention(
                    f"Another replica has been setting the shop stock of {connection!r} for "
                    f"over {self._push_wait:.0f} s; trying again shortly.",
                    retry_after=5,
                ) from exc
            except leases.LeaseLost as exc:
                raise Contention(
                    f"Setting the shop stock of {connection!r} was stopped: its lease could not "
                    "be renewed in time (the database did not answer); trying again shortly.",
                    retry_after=5,
                ) from exc

    @contextlib.asynccontextmanager
    async def full(self, connection: str) -> AsyncIterator[None]:
        running = SyncRunning(
            f"A full stock sync of {connection!r} is already running; its result will be "
            "listed under GET /sync/runs."
        )
        local = self._full[connection]
        if local.locked():
            raise running
        async with local:
            try:
                async with leases.holding(
                    self._db, f"inventory.sync:{connection}", leases.new_holder("inventory"),
                    ttl=self._ttl,
                ):  # fmt: skip
                    yield
            except leases.LeaseBusy as exc:
                raise running from exc
            except leases.LeaseLost as exc:
                raise SyncInterrupted(
                    "Stopped: the sync's lease could not be renewed in time (the database did "
                    "not answer), so another replica may take the connection over."
                ) from exc


class SyncSetupError(LedgerbridgeError):
    """The connection's settings do not fit the shop (e.g. an unknown location)."""


async def load_settings(db: Sessions, connection: str) -> StockSyncSettings:
    return await connection_settings.load_settings(
        db, StockConnectionSettings, StockSyncSettings, connection
    )


async def enabled_connections(db: Database) -> list[tuple[str, StockSyncSettings]]:
    async with db.session() as session:
        rows = (await session.exec(select(StockConnectionSettings))).all()
    found = []
    for row in rows:
        settings = StockSyncSettings.model_validate(row.settings)
        if settings.enabled:
            found.append((row.connection, settings))
    return found


# --- catalogue scan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogues:
    ledger: tuple[LedgerItem, ...]
    shop: tuple[ShopItem, ...]
    scan: CatalogueScan
    stock: tuple[VariantStock, ...] = ()

    def shop_levels(self, location_id: str) -> dict[str, int | None]:
        """`available` at the location by inventory item number (None: not stocked there)."""
        location = gid("Location", location_id)
        return {number(v.inventory_item_id): v.available.get(location) for v in self.stock}

    @property
    def ledger_levels(self) -> dict[str, Decimal | None]:
        return {item.product_number: item.available for item in self.ledger}


async def ledger_available(ledger: Ledger, product_number: str) -> Decimal | None:
    """The product's available units now, or None when it keeps no stock or is gone (the
    adapter says which products keep stock: e-conomic's by their product group)."""
    level = (await ledger.read_stock([product_number])).get(product_number)
    return level.available if level is not None else None


async def read_ledger_catalogue(ledger: Ledger) -> list[LedgerItem]:
    return [
        LedgerItem(level.item, level.name or "", level.available, barred=level.barred)
        for level in await ledger.read_catalogue()
    ]


def shop_items(stock: list[VariantStock]) -> list[ShopItem]:
    return [
        ShopItem(v.sku, number(v.inventory_item_id), number(v.variant_id), v.title) for v in stock
    ]


async def catalogue_scan(
    ledger: Ledger, shop: ShopifyGraphQLClient, *, report_without_sku: bool
) -> Catalogues:
    """Read both catalogues (concurrently: they are different APIs; the shop's by one bulk
    operation, with its levels) and link them."""
    ledger_items, stock = await asyncio.gather(read_ledger_catalogue(ledger), shop.read_stock())
    items = shop_items(stock)
    scan = link_catalogues(ledger_items, items, report_without_sku=report_without_sku)
    return Catalogues(tuple(ledger_items), tuple(items), scan, tuple(stock))


# --- full sync --------------------------------------------------------------------------------


@dataclass
class SyncResult:
    connection: str
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    mismatches: int = 0
    shop_calls: int = 0
    error: str | None = None
    run_id: int | None = None
    failures: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "connection": self.connection,
            "trigger": self.trigger,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "changed": self.changed,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "mismatches": self.mismatches,
            "shop_calls": self.shop_calls,
            "error": self.error,
            "failures": list(self.failures),
        }


async def full_sync(
    connection: str,
    *,
    db: Database,
    ledger: Ledger,
    shop: ShopifyGraphQLClient,
    settings: StockSyncSettings,
    locks: SyncLocks,
    trigger: str = "admin",
    on_started: Callable[[int], None] | None = None,
) -> SyncResult:
    """Scan both catalogues, rebuild the links, push the ledger's changed levels to the shop's
    location, and replace the mismatch report. Never raises for a failed sync: the run is stored
    with status `failed` and its reason. Raises `SyncRunning` when a full sync of the connection
    runs already (on any replica). `on_started` is given the run's id once it is stored."""
    calls_before = shop.stats.calls
    result = SyncResult(connection, trigger, "ok", utcnow(), utcnow())
    try:
        async with locks.full(connection):
            result.started_at = utcnow()
            async with db.transaction() as session:
                run = SyncRun(connection=connection, trigger=trigger, started_at=result.started_at)
                session.add(run)
                await session.flush()
                result.run_id = run.id
            if on_started is not None and run.id is not None:
                on_started(run.id)
            try:
                await _full_sync(connection, db, ledger, shop, settings, locks, result)
            except (LedgerbridgeError, ValueError) as exc:
                result.status = "failed"
                result.error = getattr(exc, "reason", None) or str(exc)
    except SyncInterrupted as exc:
        result.status, result.error = "failed", exc.reason
    result.finished_at = utcnow()
    result.shop_calls = shop.stats.calls - calls_before
    if result.run_id is None:  # interrupted before its run was written
        return result
    async with db.transaction() as session:
        stored = await session.get(SyncRun, result.run_id)
        assert stored is not None
        stored.status, stored.error = result.status, result.error
        stored.finished_at = result.finished_at
        stored.changed, stored.unchanged = result.changed, result.unchanged
        stored.failed, stored.mismatches = result.failed, result.mismatches
        stored.shop_calls = result.shop_calls
        stored.phase = "done" if result.status == "ok" else stored.phase
        session.add(stored)
    log.info(
        "stock full sync %s",
        result.status,
        extra={"data": {k: v for k, v in result.as_dict().items() if k != "failures"}},
    )
    return result


async def _full_sync(
    connection: str,
    db: Database,
    ledger: Ledger,
    shop: ShopifyGraphQLClient,
    settings: StockSyncSettings,
    locks: SyncLocks,
    result: SyncResult,
) -> None:
    if not settings.location_id:
        raise SyncSetupError("No shop location is set for stock sync on this connection.")
    location_id = settings.location_id
    await _phase(db, result, "checking the shop's location")
    locations = await shop.list_locations()
    if location_id not in {loc.legacy_resource_id for loc in locations}:
        known = ", ".join(f"{loc.legacy_resource_id} ({loc.name})" for loc in locations)
        raise SyncSetupError(
            f"Shop location {location_id} does not exist in the shop; its locations are {known}."
        )
    await _phase(db, result, "reading the ledger's products and the shop's stock")
    read_at = utcnow()  # the ledger's figures are from this moment or later
    catalogues = await catalogue_scan(
        ledger, shop, report_without_sku=settings.products_without_sku == "report"
    )
    links = catalogues.scan.links
    shop_levels = catalogues.shop_levels(location_id)
    ledger_levels = catalogues.ledger_levels

    async with locks.push(connection):
        async with db.session() as session:
            existing = {
                row.sku: row
                for row in (
                    await session.exec(select(SkuLink).where(SkuLink.connection == connection))
                ).all()
            }
            held = await held_per_sku(session, connection)
            differences = await open_differences(session, connection)
        # Pushed by the after-sale path since this sync began reading: that reading is newer.
        fresher = {
            sku
            for sku, row in existing.items()
            if row.pushed_at is not None and row.pushed_at >= result.started_at
        }
        plan = plan_sync(
            [link for link in links if link.sku not in fresher],
            ledger_levels,
            held,
            {
                sku: Pushed(row.last_pushed, Decimal(row.held_at_push))
                for sku, row in existing.items()
            },
            shop_levels,
            set(differences),
            ledger_always_wins=settings.ledger_always_wins,
        )
        await _phase(db, result, f"setting {len(plan.push)} level(s) in the shop")
        # Each level is set only if the shop still shows what the bulk read saw.
        outcome = await compare_and_set(
            shop,
            location_id,
            [
                Wanted(
                    link.sku,
                    link.inventory_item_id,
                    target,
                    shop_levels.get(link.inventory_item_id),
                )
                for link, target in plan.push
            ],
            reference=f"gid://ledgerbridge/StockSyncRun/{result.run_id}",
        )
        pushed = outcome.pushed
        failures = [f"{sku}: {reason}" for sku, reason in outcome.refused.items()]
        now = utcnow()
        recorded = {link.sku: target for link, target in plan.record}
        agreeing = set(recorded) | {link.sku for link in plan.unchanged}
        reported = {m.key: m for m in plan.differs}
        targets = {link.sku: target for link, target in plan.push}
        await _phase(db, result, f"saving {len(links)} link(s) and the mismatch report")
        for sku, shop_now in outcome.moved.items():
            # Sold (or changed) in the shop while we synced: not overwritten, reported.
            reported[sku] = level_differs(sku, targets[sku], shop_now, lowered=False)
            shop_levels[next(lk.inventory_item_id for lk in links if lk.sku == sku)] = shop_now
        async with db.transaction() as session:
            await session.exec(delete(SkuLink).where(col(SkuLink.connection) == connection))
            for link in links:
                old = existing.get(link.sku)
                available = ledger_levels.get(link.product_number)
                row = SkuLink(
                    connection=connection,
                    sku=link.sku,
                    product_number=link.product_number,
                    inventory_item_id=link.inventory_item_id,
                    variant_id=link.variant_id,
                    title=link.title,
                    ledger_level=str(available) if available is not None else None,
                    shop_level=shop_levels.get(link.inventory_item_id),
                    last_pushed=old.last_pushed if old else None,
                    held_at_push=old.held_at_push if old else "0",
                    pushed_at=old.pushed_at if old else None,
                    shop_reported_at=old.shop_reported_at if old else None,
                )
                if link.sku in fresher and old is not None:
                    row.ledger_level, row.shop_level = old.ledger_level, old.shop_level
                open_row = differences.get(link.sku)
                if link.sku in reported:
                    found = result.started_at
                    await set_level_mismatch(
                        session, connection, reported[link.sku], link.sku, found_at=found
                    )
                elif open_row is not None and link.sku not in fresher:
                    # Cleared when the shop shows the free figure by itself (not because we
                    # lowered it), or when the ledger always wins.
                    by_itself = (
                        old is None or old.pushed_at is None or (old.pushed_at <= open_row.found_at)
                    )
                    if settings.ledger_always_wins or (link.sku in agreeing and by_itself):
                        await set_level_mismatch(session, connection, None, link.sku)
                if link.sku in pushed or link.sku in recorded:
                    row.last_pushed = row.shop_level = pushed.get(link.sku, recorded.get(link.sku))
                    row.held_at_push = str(held.get(link.sku, Decimal(0)))
                    row.pushed_at = now
                session.add(row)
            await _replace_mismatches(session, connection, list(catalogues.scan.mismatches))
            await _forget_unlinked_differences(session, connection, {lk.sku for lk in links})
            await _store_ledger_levels(session, connection, catalogues.ledger, read_at)
            await forget_released(session, connection)
    result.changed = len(pushed)
    result.unchanged = (
        len(plan.unchanged) + len(plan.record) + len(fresher & {link.sku for link in links})
    )
    result.failed = len(failures)
    result.failures = tuple(failures[:20])
    result.mismatches = len(catalogues.scan.mismatches) + len(
        {m.key for m in plan.differs} | set(outcome.moved)
    )


async def _phase(db: Database, result: SyncResult, phase: str) -> None:
    """Note what the run is doing now (GET /sync/runs shows it while it runs)."""
    async with db.transaction() as session:
        stored = await session.get(SyncRun, result.run_id)
        if stored is not None:
            stored.phase = phase
            session.add(stored)


async def open_differences(session: AsyncSession, connection: str) -> dict[str, MismatchRow]:
    """The `level_differs` rows awaiting a person, by SKU."""
    rows = await session.exec(
        select(MismatchRow).where(
            MismatchRow.connection == connection,
            MismatchRow.kind == MismatchKind.LEVEL_DIFFERS.value,
        )
    )
    return {row.key: row for row in rows.all()}


async def _forget_unlinked_differences(
    session: AsyncSession, connection: str, linked: set[str]
) -> None:
    """A SKU that is no longer linked has no level to compare: its difference goes (the
    catalogue mismatches say why it is not linked)."""
    for sku, row in (await open_differences(session, connection)).items():
        if sku not in linked:
            await session.delete(row)


async def _replace_mismatches(
    session: AsyncSession, connection: str, mismatches: list[Mismatch]
) -> None:
    """The catalogue's mismatches; `level_differs` rows are kept (they stay until resolved)."""
    await session.exec(
        delete(MismatchRow).where(
            col(MismatchRow.connection) == connection,
            col(MismatchRow.kind) != MismatchKind.LEVEL_DIFFERS.value,
        )
    )
    seen: set[tuple[str, str]] = set()
    for m in mismatches:
        if (m.kind, m.key) in seen:
            continue
        seen.add((m.kind, m.key))
        session.add(
            MismatchRow(
                connection=connection,
                kind=m.kind.value,
                key=m.key,
                message=m.message,
                ledger_level=m.ledger_level,
                shop_level=m.shop_level,
            )
        )


async def _store_ledger_levels(
    session: AsyncSession, connection: str, items: tuple[LedgerItem, ...], read_at: datetime
) -> None:
    """The catalogue's figures as read at `read_at` (when the scan began), except where the
    after-sale path read or derived a figure since: that one is newer."""
    rows = {
        row.product_number: row
        for row in (
            await session.exec(select(StockLevel).where(StockLevel.connection == connection))
        ).all()
    }
    for item in items:
        if item.available is None:
            continue
        row = rows.get(item.product_number)
        if row is None:
            row = StockLevel(connection=connection, product_number=item.product_number)
        elif row.read_at >= read_at or (row.derived_at is not None and row.derived_at >= read_at):
            continue
        elif row.available == str(item.available) and row.sold_since_read == "0":
            continue  # as read before: no write (10,000 products every interval)
        row.available = str(item.available)
        row.read_at, row.derived_at, row.sold_since_read = read_at, None, "0"
        session.add(row)


async def set_level_mismatch(
    session: AsyncSession,
    connection: str,
    mismatch: Mismatch | None,
    sku: str,
    *,
    found_at: datetime | None = None,
) -> None:
    """Record (or, with None, clear) the level difference of one SKU. A difference already open
    keeps the time it was first found and gets the current figures."""
    kind = MismatchKind.LEVEL_DIFFERS.value
    row = await session.get(MismatchRow, (connection, kind, sku))
    if mismatch is None:
        if row is not None:
            await session.delete(row)
        return
    if row is None:
        row = MismatchRow(
            connection=connection,
            kind=kind,
            key=sku,
            message=mismatch.message,
            found_at=found_at or utcnow(),
        )
    row.message = mismatch.message
    row.ledger_level, row.shop_level = mismatch.ledger_level, mismatch.shop_level
    session.add(row)
