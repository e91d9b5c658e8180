"""Composition root of ingest: builds every dependency once and wires the handlers to them."""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from lb_common import leases
from lb_common.admin import create_admin_app
from lb_common.connection_copies import ConnectionBook
from lb_common.db import Database
from lb_common.events import OrderFailed, OrderProgress
from lb_common.ledger_calls import CallTally, ledger_calls_router
from lb_common.messaging import Broker
from lb_common.runtime import BackgroundJob, ServiceParts
from lb_common.sealing import SecretBox
from lb_connectors.keap import KeapDirectory
from lb_connectors.ledger.consent import ConsentContext
from lb_connectors.ledgers import LedgerDirectory
from lb_connectors.shops import ShopDirectory
from lb_ingest import (
    connection_routes,
    connection_subscriptions,
    connections,
    consumers,
    keap_hooks,
    notified_routes,
    reconcile,
    retention,
    stalled,
)
from lb_ingest.api import admin_router, hook_router, webhook_router
from lb_ingest.connections import ConnectionCache
from lb_ingest.fast_path.processor import DeliveryProcessor
from lb_ingest.fast_path.writer import DeliveryWriter
from lb_ingest.ledger_consent import ConsentFlows
from lb_ingest.notified_fetch import NotifiedFetcher
from lb_ingest.reconcile import ReconcileResult
from lb_ingest.settings import IngestSettings
from lb_ingest.store import TABLES, ShopConnection

SERVICE = "ingest"

log = logging.getLogger(__name__)


def bootstrap(
    settings: IngestSettings | None = None,
    *,
    shop_transport: httpx.AsyncBaseTransport | None = None,
    ledger_transport: httpx.AsyncBaseTransport | None = None,
) -> ServiceParts:
    settings = settings or IngestSettings()
    common = settings.common
    db = Database(settings.resolved_database_url(SERVICE))
    broker = Broker(common.amqp_url.get_secret_value(), common.broker_prefix)
    box = SecretBox.from_settings(common)
    book = ConnectionBook(db, box, common)
    shop_connections = ConnectionCache(db, box)
    # A web process only stores what arrives; a worker applies it (docs/architecture.md).
    writer = DeliveryWriter(db, defer=common.role == "web")
    processor = DeliveryProcessor(
        db, shop_connections, poll_interval=0.05 if common.role == "worker" else 1.0
    )
    shops = ShopDirectory(common, transport=shop_transport, book=book)
    # Keap (fetch after notify): its API for the orders its hooks name, and for its hooks.
    keap = KeapDirectory(
        common,
        book,
        transport=shop_transport,
        requests_per_minute=settings.keap_requests_per_minute,
    )
    # ingest calls a ledger only to read a newly granted agreement's reference data.
    # Every ledger call counted per agreement and UTC day (GET /ledger-calls).
    tally = CallTally()
    ledgers = LedgerDirectory(common, transport=ledger_transport, book=book, tally=tally)
    # The ledger kinds' consent flows (e-conomic's installation, Intuit's OAuth), by kind.
    consents = ConsentFlows(ConsentContext(common, host=settings, transport=ledger_transport))
    onboarding = connection_routes.Onboarding(
        db, box, book, shop_connections, settings, ledgers, shops, keap, consents
    )

    async def reconcile_now(name: str, since: datetime | None) -> ReconcileResult:
        return await reconcile.reconcile(
            db, writer, shop_connections, shops, name, since=since, keap=keap
        )

    # The orders Keap's hooks named, fetched within the key's quota by one replica at a time.
    fetcher = NotifiedFetcher(
        db, shop_connections, writer, keap, poll_interval=settings.keap_fetch_poll_seconds
    )
    background: list[BackgroundJob] = [
        processor.run,
        leases.on_one_replica(db, "ingest.notified_fetch", SERVICE, fetcher.run),
    ]
    if settings.reconcile_interval_seconds > 0:
        # One replica at a time reconciles (whoever holds the lease; docs: lb_common/leases.py).
        reconcile_job = functools.partial(
            reconcile.run_periodically,
            db,
            writer,
            shop_connections,
            shops,
            settings.reconcile_interval_seconds,
            keap=keap,
        )
        background.append(leases.on_one_replica(db, "ingest.reconcile", SERVICE, reconcile_job))
    if settings.stall_check_seconds > 0:
        # Orders whose message was lost on the way are sent on again, by one replica at a time.
        sweeper = stalled.StalledOrderSweeper(
            db,
            stall_after=settings.stall_after_seconds,
            batch=settings.stall_batch,
            backlog=functools.partial(stalled.downstream_backlog, broker),
            hold_when_queued=settings.stall_hold_when_queued,
        )
        sweep = functools.partial(stalled.run_periodically, sweeper, settings.stall_check_seconds)
        background.append(leases.on_one_replica(db, "ingest.stalled", SERVICE, sweep))

    # Every connection to the other services, at start and periodically, from one replica.
    resend = functools.partial(
        connections.resend_periodically, db, box, settings.connections_resend_seconds
    )
    background.append(leases.on_one_replica(db, "ingest.connections", SERVICE, resend))

    # Every Shopify connection's webhook subscriptions checked (and repaired), from one replica.
    check_subscriptions = functools.partial(
        connection_subscriptions.run_periodically,
        db,
        shops,
        settings.public_url,
        settings.webhook_subscriptions_check_seconds,
    )
    background.append(
        leases.on_one_replica(db, "ingest.webhook_subscriptions", SERVICE, check_subscriptions)
    )

    if settings.keap_hooks_check_seconds > 0:
        # Every Keap connection's hooks made and re-verified (Inactive ones), from one replica.
        check_keap_hooks = functools.partial(
            keap_hooks.run_periodically,
            db,
            shop_connections,
            keap,
            settings.public_url,
            settings.keap_hooks_check_seconds,
        )
        background.append(leases.on_one_replica(db, "ingest.keap_hooks", SERVICE, check_keap_hooks))

    async def seed_demo_connection() -> None:
        async with db.transaction() as session:
            if await session.get(ShopConnection, "demo") is None:
                demo = ShopConnection(name="demo", platform="shopify", settings={}, revision=1)
                secret = settings.demo_shopify_secret.get_secret_value()
                connections.seal_into(box, demo, {"webhook_secrets": [secret]})
                session.add(demo)
                await connections.announce(session, box, demo)

    async def seal_connections() -> None:
        # Clear text of an older release sealed, every secret under the first key. A key that
        # opens nothing fails the start, loudly; a replica starting beside this one may have
        # written the same copy first, and has then done this same work.
        try:
            await connections.reseal_all(db, box)
        except IntegrityError:
            log.info("another ingest process resealed the connections")
        await book.load()

    def app_factory() -> FastAPI:
        return create_admin_app(
            SERVICE,
            admin_token=common.admin_token,
            readiness=[("database", db.ping), ("broker", broker.ping)],
            broker=broker,
            routers=[
                ledger_calls_router(db),
                admin_router(db, shop_connections, reconcile_now, box, book, onboarding.after_save),
                connection_routes.admin_router(onboarding),
                notified_routes.router(db),
            ],
            open_routers=[
                webhook_router(shop_connections, writer, max_body_bytes=settings.max_body_bytes),
                hook_router(shop_connections, db, max_body_bytes=settings.max_body_bytes),
                connection_routes.grant_router(onboarding),
            ],
        )

    return ServiceParts(
        name=SERVICE,
        settings=common,
        db=db,
        broker=broker,
        tables=TABLES,
        migrations=Path(__file__).parent / "migrations",
        handlers={
            OrderProgress: consumers.handle_progress,
            OrderFailed: consumers.handle_failed,
        },
        app_factory=app_factory,
        request_jobs=[writer.run, book.keep_fresh, functools.partial(tally.keep_flushing, db)],
        background=background,
        prune_rules=retention.rules(common),
        on_start=[
            *([seed_demo_connection] if settings.seed_demo_connection else []),
            seal_connections,
        ],
        on_stop=[shops.aclose, ledgers.aclose, keap.aclose, consents.aclose],
    )
