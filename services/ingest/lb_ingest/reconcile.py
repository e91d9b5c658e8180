"""Reconciliation: webhooks can be lost, so ask the shop for the orders updated since the last
run and feed the ones we miss (or hold an older version of) through the normal path.

Keap connections are reconciled by keap_reconcile.py (orders named to the fetcher).

Shopify: two passes over Shopify's GraphQL Admin API: the `orders` query filtered by `updated_at` (cursor
paging, about a point an order) lists what changed; only the orders we miss or hold an older
version of are then read whole (`OrderForReconcile`, a few hundred points each, plus a page
per 50 lines beyond the first 25 and a read per refund) and turned into the webhook's body
shape, refunds included: a refund whose refunds/create webhook was lost is recovered here.

Each fetched order becomes a delivery with the id `reconcile:<order id>:<updated_at>`: running
twice over the same window stores nothing twice, and the writer's version rule keeps newer
versions from being overwritten. The watermark moves only after a run completed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select

from lb_common.db import Database, utcnow
from lb_common.errors import LedgerbridgeError
from lb_common.orders import make_order_key
from lb_common.work_loop import every
from lb_connectors.keap import KeapDirectory
from lb_connectors.platforms.base import (
    CustomerFieldMap,
    DeliveryInfo,
    PayloadError,
    PlatformAdapter,
    TopicKind,
)
from lb_connectors.platforms.registry import get_adapter
from lb_connectors.shopify_admin import ShopifyRejected
from lb_connectors.shops import ShopDirectory
from lb_ingest.arrival import Arrival
from lb_ingest.connections import ActiveConnection, ConnectionCache
from lb_ingest.fast_path.writer import DeliveryWriter
from lb_ingest.keap_reconcile import name_changed_orders
from lb_ingest.order_repository import with_orders
from lb_ingest.store import ReconciliationMark, ReconciliationOutcome, ShopConnection

log = logging.getLogger(__name__)

# Orders updated just before the last run may have been written after we read that page.
OVERLAP = timedelta(minutes=5)
FIRST_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class ReconcileResult:
    connection: str
    since: datetime
    seen: int
    fed: int  # missing or newer than ours: sent through the writer
    unchanged: int
    unreadable: int

    def as_dict(self) -> dict[str, object]:
        return {**self.__dict__, "since": self.since.isoformat()}


class ReconcileError(Exception):
    """The connection cannot be reconciled as configured (said in words for the operator)."""


async def reconcile(
    db: Database,
    writer: DeliveryWriter,
    connections: ConnectionCache,
    shops: ShopDirectory,
    connection_name: str,
    *,
    since: datetime | None = None,
    keap: KeapDirectory | None = None,
) -> ReconcileResult:
    """Reconcile one connection; how it ended is kept (`ReconciliationOutcome`), failed or not."""
    try:
        result = await _reconcile(
            db, writer, connections, shops, connection_name, since=since, keap=keap
        )
    except Exception as exc:
        await _keep_outcome(db, connection_name, ok=False, detail=_failure(exc))
        raise
    await _keep_outcome(
        db,
        connection_name,
        ok=True,
        detail=f"{result.seen} orders seen in the shop, {result.fed} fed, "
        f"{result.unchanged} unchanged, {result.unreadable} unreadable",
    )
    return result


def _failure(exc: Exception) -> str:
    if isinstance(exc, ReconcileError):
        return str(exc)
    if isinstance(exc, LedgerbridgeError):
        return exc.reason
    return f"an unexpected error ({type(exc).__name__}); the ingest log has the details"


async def _keep_outcome(db: Database, connection: str, *, ok: bool, detail: str) -> None:
    async with db.transaction() as session:
        await session.merge(
            ReconciliationOutcome(
                connection=connection, finished_at=utcnow(), ok=ok, detail=detail[:1000]
            )
        )


async def _reconcile(
    db: Database,
    writer: DeliveryWriter,
    connections: ConnectionCache,
    shops: ShopDirectory,
    connection_name: str,
    *,
    since: datetime | None = None,
    keap: KeapDirectory | None = None,
) -> ReconcileResult:
    connection = await connections.get(connection_name)
    if connection is None:
        raise ReconcileError(f"no connection named {connection_name!r}")
    if connection.platform == "keap" and keap is not None:
        return await _reconcile_keap(db, keap, connection, since)
    shop = connection.settings.shop_domain
    if connection.platform != "shopify" or not shop:
        raise ReconcileError(
            f"connection {connection_name!r} cannot be reconciled: it needs platform keap, or shopify "
            "with settings.shop_domain (e.g. my-shop.myshopify.com)"
        )
    if not connection.enabled:
        raise ReconcileError(f"connection {connection_name!r} is disabled")
    if shops.uses_environment(connection_name):
        # The environment's shop can be one connection's only: which connection its orders
        # belong to cannot be told otherwise (they would become phantom orders of the others).
        sharing = [
            name
            for name in await _shopify_connections(db)
            if name != connection_name and shops.uses_environment(name)
        ]
        if sharing:
            raise ReconcileError(
                f"connections {connection_name!r} and {sharing[0]!r} both reach the shop set by "
                "LEDGERBRIDGE_SHOPIFY_*, so its orders cannot be told apart: give each its own "
                "shop (PUT /connections/{name} with shop.admin_url and shop.admin_token)"
            )
    started = utcnow()
    if since is None:
        async with db.session() as session:
            mark = await session.get(ReconciliationMark, connection_name)
        since = (mark.last_run_at - OVERLAP) if mark else started - FIRST_WINDOW

    adapter = get_adapter("shopify")
    fields = connection.settings.customer_fields
    client = shops.for_connection(connection_name)
    seen = fed = unchanged = unreadable = 0
    versions: list[tuple[str, datetime]] = []
    async for order_number, updated_at in client.iter_order_versions(since):
        seen += 1
        versions.append((order_number, updated_at))
    for start in range(0, len(versions), 100):
        chunk = versions[start : start + 100]
        stale = await _not_held(db, shop, chunk)
        unchanged += len(chunk) - len(stale)
        batch: list[tuple[str, bytes]] = []
        for order_number in stale:
            try:
                raw = await client.order_body(order_number)
            except ShopifyRejected as exc:
                # One order that cannot be read (e.g. a refund with more transactions than one
                # read takes) must not stop the others; it is left to its webhooks.
                unreadable += 1
                log.warning("reconciled order %s is unreadable: %s", order_number, exc.reason)
                continue
            if raw is not None:
                batch.append((order_number, json.dumps(raw, separators=(",", ":")).encode()))
        counts = await _feed(db, writer, adapter, connection, shop, fields, batch)
        fed, unchanged, unreadable = fed + counts[0], unchanged + counts[1], unreadable + counts[2]

    async with db.transaction() as session:
        await session.merge(ReconciliationMark(connection=connection_name, last_run_at=started))
    result = ReconcileResult(connection_name, since, seen, fed, unchanged, unreadable)
    log.info("reconciliation done", extra={"data": result.as_dict()})
    return result


async def _reconcile_keap(
    db: Database, keap: KeapDirectory, connection: ActiveConnection, since: datetime | None
) -> ReconcileResult:
    """Keap: the changed orders are named to the fetcher (keap_reconcile.py), which feeds them."""
    if not connection.enabled:
        raise ReconcileError(f"connection {connection.name!r} is disabled")
    if since is None:
        async with db.session() as session:
            mark = await session.get(ReconciliationMark, connection.name)
        since = (mark.last_run_at - OVERLAP) if mark else utcnow() - FIRST_WINDOW
    try:
        seen, named, unchanged = await name_changed_orders(db, keap, connection, since)
    except LedgerbridgeError as exc:
        raise ReconcileError(f"Keap could not be asked for its orders: {exc.reason}") from exc
    result = ReconcileResult(connection.name, since, seen, named, unchanged, 0)
    log.info("reconciliation done", extra={"data": result.as_dict()})
    return result


async def _not_held(db: Database, shop: str, versions: list[tuple[str, datetime]]) -> list[str]:
    """The order numbers we do not hold at this version (missing, or ours is older)."""
    keys = {make_order_key("shopify", shop, number): (number, v) for number, v in versions}
    async with db.session() as session:
        known = await with_orders(session, lambda orders: orders.versions(list(keys)))
    return [
        number
        for key, (number, version) in keys.items()
        if known.get(key) is None or version > known[key]
    ]


async def _feed(
    db: Database,
    writer: DeliveryWriter,
    adapter: PlatformAdapter,
    connection: ActiveConnection,
    shop: str,
    fields: CustomerFieldMap,
    batch: list[tuple[str, bytes]],
) -> tuple[int, int, int]:
    """Submit the orders we do not hold at this version; returns (fed, unchanged, unreadable)."""
    parsed = []
    unreadable = 0
    for order_id, body in batch:
        try:
            parsed.append((body, adapter.parse_order(body, shop=shop, fields=fields)))
        except PayloadError as exc:
            unreadable += 1
            log.warning("reconciled order %s is unreadable: %s", order_id, exc)
    keys = [order.order_key for _, order in parsed]
    async with db.session() as session:
        known = await with_orders(session, lambda orders: orders.versions(keys))
    wanted = [
        (body, order)
        for body, order in parsed
        if known.get(order.order_key) is None or order.version > known[order.order_key]
    ]
    outcomes = await asyncio.gather(
        *(
            writer.submit(
                Arrival(
                    shop_connection=connection,
                    platform="shopify",
                    info=DeliveryInfo(
                        platform="shopify",
                        topic="reconcile/orders",
                        delivery_id=f"reconcile:{order.order_id}:{order.version.isoformat()}",
                        event_id=None,
                        shop=shop,
                    ),
                    body=body,
                    kind=TopicKind.ORDER,
                    order=order,
                    refunds=adapter.parse_refunds_from_order(body, shop=shop),
                )
            )
            for body, order in wanted
        )
    )
    fed = sum(1 for o in outcomes if o.status_code == 200)
    return fed, len(parsed) - len(wanted), unreadable


async def run_periodically(
    db: Database,
    writer: DeliveryWriter,
    connections: ConnectionCache,
    shops: ShopDirectory,
    interval: float,
    stop: asyncio.Event,
    *,
    keap: KeapDirectory | None = None,
) -> None:
    """Reconcile every Shopify connection that has a shop domain, and every Keap connection,
    every `interval` seconds."""

    async def reconcile_all() -> None:
        for name in await _keap_connections(db) if keap is not None else []:
            try:
                await reconcile(db, writer, connections, shops, name, keap=keap)
            except Exception:  # one tenant being down must not stop the others
                log.exception("reconciliation of %s failed", name)
        for name in await _shopify_connections(db):
            connection = await connections.get(name)
            if connection is None or not connection.settings.shop_domain:
                continue
            try:
                await reconcile(db, writer, connections, shops, name)
            except Exception:  # one shop being down must not stop the others
                log.exception("reconciliation of %s failed", name)

    await every(interval, stop, reconcile_all, what="reconciliation")


async def _keap_connections(db: Database) -> list[str]:
    async with db.session() as session:
        rows = (
            await session.exec(
                select(ShopConnection.name).where(
                    ShopConnection.platform == "keap",
                    col(ShopConnection.enabled).is_(True),
                    col(ShopConnection.deleted_at).is_(None),
                )
            )
        ).all()
    return list(rows)


async def _shopify_connections(db: Database) -> list[str]:
    """The enabled Shopify connections that name their shop (those reconciliation serves)."""
    async with db.session() as session:
        rows = (
            await session.exec(
                select(ShopConnection).where(
                    ShopConnection.platform == "shopify",
                    col(ShopConnection.enabled).is_(True),
                    col(ShopConnection.deleted_at).is_(None),
                )
            )
        ).all()
    return [row.name for row in rows if (row.settings or {}).get("shop_domain")]
