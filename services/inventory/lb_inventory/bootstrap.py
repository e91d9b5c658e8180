"""Composition root of the inventory service."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from lb_common import leases
from lb_common.admin import create_admin_app
from lb_common.connection_copies import ConnectionBook
from lb_common.db import Database
from lb_common.events import (
    ConnectionChanged,
    CreditNoteBooked,
    InvoiceBooked,
    OrderUnitsHeld,
    ShopStockReported,
)
from lb_common.ledger_calls import CallTally, ledger_calls_router
from lb_common.messaging import Broker
from lb_common.runtime import ServiceParts
from lb_common.sealing import SecretBox
from lb_connectors.ledgers import LedgerDirectory
from lb_connectors.shops import ShopDirectory
from lb_inventory import after_sale, held_units, shop_reported
from lb_inventory.api import admin_router
from lb_inventory.policy import StockSyncSettings
from lb_inventory.scheduler import run_scheduler
from lb_inventory.settings import InventorySettings
from lb_inventory.store import TABLES
from lb_inventory.sync import SyncLocks, SyncResult, full_sync

SERVICE = "inventory"


def bootstrap(
    settings: InventorySettings | None = None,
    *,
    ledger_transport: httpx.AsyncBaseTransport | None = None,
    shop_transport: httpx.AsyncBaseTransport | None = None,
) -> ServiceParts:
    settings = settings or InventorySettings()
    common = settings.common
    db = Database(settings.resolved_database_url(SERVICE))
    broker = Broker(common.amqp_url.get_secret_value(), common.broker_prefix)
    # The connections' ledger (and shop) credentials, from ingest's connection.changed.
    book = ConnectionBook(db, SecretBox.from_settings(common), common)
    # Every ledger call counted per agreement and UTC day (GET /ledger-calls).
    tally = CallTally()
    ledgers = LedgerDirectory(common, transport=ledger_transport, book=book, tally=tally)
    shops = ShopDirectory(common, transport=shop_transport, book=book)
    locks = SyncLocks(db)  # per connection, across replicas (leases in the database)
    followers = after_sale.Followers(
        ledgers=ledgers,
        shops=shops,
        locks=locks,
        read_every=timedelta(seconds=settings.stock_read_seconds),
    )

    async def run_full_sync(
        connection: str,
        sync_settings: StockSyncSettings,
        on_started: Callable[[int], None] | None = None,
    ) -> SyncResult:
        return await full_sync(
            connection,
            db=db,
            ledger=ledgers.ledger(connection),
            shop=shops.for_connection(connection),
            settings=sync_settings,
            locks=locks,
            trigger="admin",
            on_started=on_started,
        )

    async def scheduler(stopping: asyncio.Event) -> None:
        # One replica at a time runs the scheduled syncs (whoever holds the lease).
        await leases.lead(
            stopping,
            db=db,
            name="inventory.stock_sync",
            holder=leases.new_holder(SERVICE),
            job=functools.partial(
                run_scheduler,
                db=db,
                ledgers=ledgers,
                shops=shops,
                locks=locks,
                check_seconds=settings.sync_check_seconds,
                active=book.is_active,
            ),
        )

    def app_factory() -> FastAPI:
        return create_admin_app(
            SERVICE,
            admin_token=common.admin_token,
            readiness=[("database", db.ping), ("broker", broker.ping)],
            broker=broker,
            routers=[
                ledger_calls_router(db),
                admin_router(db, run_full_sync, ledgers=ledgers, shops=shops, locks=locks),
            ],
        )

    async def close_clients() -> None:
        await ledgers.aclose()
        await shops.aclose()

    return ServiceParts(
        name=SERVICE,
        settings=common,
        db=db,
        broker=broker,
        tables=TABLES,
        migrations=Path(__file__).parent / "migrations",
        handlers={
            InvoiceBooked: functools.partial(after_sale.handle_invoice_booked, followers=followers),
            CreditNoteBooked: functools.partial(
                after_sale.handle_creditnote_booked, followers=followers
            ),
            OrderUnitsHeld: functools.partial(held_units.handle_units_held, locks=locks),
            ShopStockReported: functools.partial(
                shop_reported.handle_shop_reported,
                ledgers=ledgers,
                shops=shops,
                locks=locks,
                read_every=timedelta(seconds=settings.stock_read_seconds),
            ),
            ConnectionChanged: book.handle_changed,
        },
        app_factory=app_factory,
        request_jobs=[book.keep_fresh, functools.partial(tally.keep_flushing, db)],
        background=[scheduler],
        on_start=[book.load],
        on_stop=[close_clients],
    )
