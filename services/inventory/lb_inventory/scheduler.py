"""The background job: a full sync per connection with stock sync on, every interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import col, select

from lb_common.db import Database, utcnow
from lb_connectors.ledgers import LedgerDirectory
from lb_connectors.shops import ShopDirectory
from lb_inventory.store import SyncRun
from lb_inventory.sync import (
    SyncLocks,
    SyncRunning,
    enabled_connections,
    full_sync,
    load_settings,
)

log = logging.getLogger("lb_inventory.scheduler")


async def due_connections(db: Database) -> list[str]:
    due = []
    now = utcnow()
    for connection, settings in await enabled_connections(db):
        async with db.session() as session:
            last = (
                await session.exec(
                    select(SyncRun)
                    .where(SyncRun.connection == connection)
                    .order_by(col(SyncRun.started_at).desc())
                    .limit(1)
                )
            ).first()
        interval = timedelta(minutes=settings.full_sync_interval_minutes)
        if last is None or now - last.started_at >= interval:
            due.append(connection)
    return due


async def run_scheduler(
    stopping: asyncio.Event,
    *,
    db: Database,
    ledgers: LedgerDirectory,
    shops: ShopDirectory,
    locks: SyncLocks,
    check_seconds: float,
    active: Callable[[str], bool] = lambda _connection: True,
) -> None:
    # The first look one interval after start: a sync enabled just now is started by hand
    # (POST /sync) or at the next look, not by a look racing the PUT that enabled it.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), timeout=check_seconds)
    while not stopping.is_set():
        try:
            for connection in await due_connections(db):
                if stopping.is_set():
                    break
                if not active(connection):  # disabled or deleted: no stock sync
                    continue
                try:
                    await full_sync(
                        connection,
                        db=db,
                        ledger=ledgers.ledger(connection),
                        shop=shops.for_connection(connection),
                        settings=await load_settings(db, connection),
                        locks=locks,
                        trigger="schedule",
                    )
                except SyncRunning:
                    # Started by hand (POST /sync) on some replica: that run is this interval's.
                    log.info("full sync of %s runs already; not starting another", connection)
        except Exception:
            log.exception("scheduled stock sync failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=check_seconds)
