"""Composition root of the invoicing service."""

from __future__ import annotations

import functools
from pathlib import Path

import httpx
from fastapi import FastAPI

from lb_common.admin import create_admin_app
from lb_common.connection_copies import ConnectionBook
from lb_common.db import Database
from lb_common.events import ConnectionChanged, CustomerResolved, OrderCancelled, OrderRefunded
from lb_common.ledger_calls import CallTally, ledger_calls_router
from lb_common.messaging import Broker
from lb_common.runtime import ServiceParts
from lb_common.sealing import SecretBox
from lb_connectors.ledgers import LedgerDirectory
from lb_invoicing import book, credit, settled
from lb_invoicing.api import admin_router
from lb_invoicing.order_lease import OrderLeases
from lb_invoicing.policy import DEMO_SETTINGS
from lb_invoicing.settings import InvoicingSettings
from lb_invoicing.store import TABLES, InvoiceConnectionSettings

SERVICE = "invoicing"


def bootstrap(
    settings: InvoicingSettings | None = None,
    *,
    ledger_transport: httpx.AsyncBaseTransport | None = None,
) -> ServiceParts:
    settings = settings or InvoicingSettings()
    common = settings.common
    db = Database(settings.resolved_database_url(SERVICE))
    broker = Broker(common.amqp_url.get_secret_value(), common.broker_prefix)
    # The connections' ledger (and shop) credentials, from ingest's connection.changed.
    connection_book = ConnectionBook(db, SecretBox.from_settings(common), common)
    # Every ledger call counted per agreement and UTC day (GET /ledger-calls).
    tally = CallTally()
    ledgers = LedgerDirectory(common, transport=ledger_transport, book=connection_book, tally=tally)
    # One order's documents at a time, across replicas.
    orders = OrderLeases(db, ttl=settings.order_lease_seconds)

    async def seed_demo_connection() -> None:
        async with db.transaction() as session:
            if await session.get(InvoiceConnectionSettings, "demo") is None:
                session.add(
                    InvoiceConnectionSettings(
                        connection="demo", settings=DEMO_SETTINGS.model_dump(mode="json")
                    )
                )

    def app_factory() -> FastAPI:
        return create_admin_app(
            SERVICE,
            admin_token=common.admin_token,
            readiness=[("database", db.ping), ("broker", broker.ping)],
            broker=broker,
            routers=[ledger_calls_router(db), admin_router(db)],
            parked_settled=functools.partial(settled.parked_work_done, db=db),
        )

    return ServiceParts(
        name=SERVICE,
        settings=common,
        db=db,
        broker=broker,
        tables=TABLES,
        migrations=Path(__file__).parent / "migrations",
        handlers={
            CustomerResolved: functools.partial(
                book.handle_customer_resolved, ledgers=ledgers, orders=orders
            ),
            OrderRefunded: functools.partial(
                credit.handle_order_refunded, ledgers=ledgers, orders=orders
            ),
            OrderCancelled: functools.partial(
                credit.handle_order_cancelled, ledgers=ledgers, orders=orders
            ),
            ConnectionChanged: connection_book.handle_changed,
        },
        app_factory=app_factory,
        request_jobs=[connection_book.keep_fresh, functools.partial(tally.keep_flushing, db)],
        on_start=[
            connection_book.load,
            *([seed_demo_connection] if settings.seed_demo_connection else []),
        ],
        on_stop=[ledgers.aclose],
    )
