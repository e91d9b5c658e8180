"""Composition root of the customers service."""

from __future__ import annotations

import functools
from pathlib import Path

import httpx
from fastapi import FastAPI

from lb_common.admin import create_admin_app
from lb_common.connection_copies import ConnectionBook
from lb_common.db import Database
from lb_common.events import ConnectionChanged, OrderReady
from lb_common.ledger_calls import CallTally, ledger_calls_router
from lb_common.messaging import Broker
from lb_common.runtime import ServiceParts
from lb_common.sealing import SecretBox
from lb_connectors.ledgers import LedgerDirectory
from lb_customers import resolve
from lb_customers.api import admin_router, debtors_router
from lb_customers.claims import CreationClaims
from lb_customers.settings import CustomersSettings
from lb_customers.store import TABLES

SERVICE = "customers"


def bootstrap(
    settings: CustomersSettings | None = None,
    *,
    ledger_transport: httpx.AsyncBaseTransport | None = None,
) -> ServiceParts:
    settings = settings or CustomersSettings()
    common = settings.common
    db = Database(settings.resolved_database_url(SERVICE))
    broker = Broker(common.amqp_url.get_secret_value(), common.broker_prefix)
    # The connections' ledger (and shop) credentials, from ingest's connection.changed.
    book = ConnectionBook(db, SecretBox.from_settings(common), common)
    # Every ledger call counted per agreement and UTC day (GET /ledger-calls).
    tally = CallTally()
    ledgers = LedgerDirectory(common, transport=ledger_transport, book=book, tally=tally)

    def app_factory() -> FastAPI:
        return create_admin_app(
            SERVICE,
            admin_token=common.admin_token,
            readiness=[("database", db.ping), ("broker", broker.ping)],
            broker=broker,
            routers=[ledger_calls_router(db), admin_router(db), debtors_router(db, ledgers)],
        )

    return ServiceParts(
        name=SERVICE,
        settings=common,
        db=db,
        broker=broker,
        tables=TABLES,
        migrations=Path(__file__).parent / "migrations",
        handlers={
            OrderReady: functools.partial(
                resolve.handle_order_ready, ledgers=ledgers, claims=CreationClaims(db)
            ),
            ConnectionChanged: book.handle_changed,
        },
        app_factory=app_factory,
        request_jobs=[book.keep_fresh, functools.partial(tally.keep_flushing, db)],
        on_start=[book.load],
        on_stop=[ledgers.aclose],
    )
