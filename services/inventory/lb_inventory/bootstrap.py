"""Composition root of the inventory service."""

from __future__ import annotations

import functools

import httpx
from fastapi import FastAPI

from lb_common.admin import create_admin_app
from lb_common.db import Database
from lb_common.messaging import Broker
from lb_common.runtime import ServiceParts
from lb_connectors.ledgers import LedgerDirectory
from lb_inventory import after_sale
from lb_inventory.api import admin_router
from lb_inventory.settings import InventorySettings
from lb_inventory.store import TABLES

SERVICE = "inventory"


def bootstrap(
    settings: InventorySettings | None = None,
    *,
    ledger_transport: httpx.AsyncBaseTransport | None = None,
) -> ServiceParts:
    settings = settings or InventorySettings()
    common = settings.common
    db = Database(settings.resolved_database_url(SERVICE))
    broker = Broker(common.amqp_url.get_secret_value(), common.broker_prefix)
    ledgers = LedgerDirectory(common, transport=ledger_transport)

    def app_factory() -> FastAPI:
        return create_admin_app(
            SERVICE,
            admin_token=common.admin_token,
            readiness=[("database", db.ping), ("broker", broker.ping)],
            broker=broker,
            routers=[admin_router(db)],
        )

    return ServiceParts(
        name=SERVICE,
        settings=common,
        db=db,
        broker=broker,
        tables=TABLES,
        handlers={
            "invoice.booked": functools.partial(
                after_sale.handle_invoice_booked, db=db, ledgers=ledgers
            )
        },
        app_factory=app_factory,
        on_stop=[ledgers.aclose],
    )
