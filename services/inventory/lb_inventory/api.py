"""The inventory admin API: stock, SKU links, units held by unbooked orders, the mismatch report
and resolving a level difference, the shop's locations, full sync, and per-connection stock sync
settings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func
from sqlmodel import col, select

from lb_common.admin_params import limit_query, offset_query
from lb_common.connection_settings import settings_router
from lb_common.db import Database
from lb_common.errors import Contention
from lb_common.openapi_links import Link, links_to
from lb_connectors.ledgers import LedgerDirectory
from lb_connectors.shops import ShopDirectory
from lb_inventory.holds import held_per_sku
from lb_inventory.policy import StockSyncSettings
from lb_inventory.resolve import Keep, ResolveRefused, resolve_difference
from lb_inventory.store import (
    HeldOrder,
    MismatchRow,
    SkuLink,
    StockConnectionSettings,
    StockLevel,
    SyncRun,
)
from lb_inventory.sync import SyncLocks, SyncResult, SyncRunning, load_settings


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # ledger: set the shop to the ledger's free figure; shop: the ledger was corrected to match
    # the shop (checked before the report closes).
    keep: Keep


def admin_router(
    db: Database,
    run_full_sync: Callable[..., Any] | None = None,
    *,
    ledgers: LedgerDirectory | None = None,
    shops: ShopDirectory | None = None,
    locks: SyncLocks | None = None,
) -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.get("/stock")
    async def stock(
        connection: str | None = None,
        limit: int = limit_query(500, 5000),
        offset: int = offset_query(),
    ) -> list[StockLevel]:
        # A product that keeps no stock is remembered (not read again at each sale), not listed.
        query = (
            select(StockLevel)
            .where(col(StockLevel.available).is_not(None))
            .order_by(col(StockLevel.connection), col(StockLevel.product_number))
        )
        if connection:
            query = query.where(StockLevel.connection == connection)
        async with db.session() as session:
            return list((await session.exec(query.offset(offset).limit(limit))).all())

    @router.get("/links")
    async def links(
        connection: str = "demo",
        sku: str | None = None,
        limit: int = limit_query(500, 5000),
        offset: int = offset_query(),
    ) -> list[SkuLink]:
        query = select(SkuLink).where(SkuLink.connection == connection).order_by(col(SkuLink.sku))
        if sku:
            query = query.where(SkuLink.sku == sku)
        async with db.session() as session:
            return list((await session.exec(query.offset(offset).limit(limit))).all())

    @router.get(
        "/mismatches",
        responses=links_to(
            resolve=Link(
                "POST",
                "/mismatches/level_differs/{sku}/resolve",
                sku="$response.body#/items/0/key",
                connection="$response.body#/connection",
            )
        ),
    )
    async def mismatches(
        connection: str = "demo",
        kind: str | None = None,
        limit: int = limit_query(500, 5000),
        offset: int = offset_query(),
    ) -> dict[str, Any]:
        """`counts`: every mismatch by kind; `items`: `limit` of them from `offset`."""
        query = (
            select(MismatchRow)
            .where(MismatchRow.connection == connection)
            .order_by(col(MismatchRow.kind), col(MismatchRow.key))
        )
        counting = (
            select(MismatchRow.kind, func.count())
            .where(MismatchRow.connection == connection)
            .group_by(col(MismatchRow.kind))
        )
        if kind:
            query = query.where(MismatchRow.kind == kind)
            counting = counting.where(MismatchRow.kind == kind)
        async with db.session() as session:
            rows = list((await session.exec(query.offset(offset).limit(limit))).all())
            counts = {k: int(n) for k, n in (await session.exec(counting)).all()}
        return {
            "connection": connection,
            "counts": counts,
            "items": [row.model_dump(mode="json") for row in rows],
        }

    @router.post("/mismatches/level_differs/{sku}/resolve")
    async def resolve(sku: str, body: ResolveBody, connection: str = "demo") -> dict[str, Any]:
        """Close a reported level difference: keep the ledger's figure (set in the shop now) or
        the shop's (once the ledger was corrected to match)."""
        assert ledgers is not None and shops is not None and locks is not None
        try:
            resolved = await resolve_difference(
                connection,
                sku,
                body.keep,
                db=db,
                ledger=ledgers.ledger(connection),
                shop=shops.for_connection(connection),
                locks=locks,
            )
        except ResolveRefused as exc:
            raise HTTPException(exc.status, exc.reason) from exc
        except Contention as exc:  # another replica kept the shop's stock busy too long
            raise HTTPException(409, exc.reason) from exc
        return resolved.as_dict()

    @router.get("/held")
    async def held(connection: str = "demo") -> dict[str, Any]:
        """Units sold in the shop and not yet booked in the ledger, per SKU, with their orders:
        the shop is shown the ledger's available less these."""
        query = (
            select(HeldOrder)
            .where(HeldOrder.connection == connection, col(HeldOrder.released_at).is_(None))
            .order_by(col(HeldOrder.order_key))
        )
        async with db.session() as session:
            rows = list((await session.exec(query)).all())
            per_sku = await held_per_sku(session, connection)
        return {
            "connection": connection,
            "per_sku": {sku: str(q) for sku, q in sorted(per_sku.items())},
            "orders": [
                {"order_key": r.order_key, "units": r.units, "version": r.version} for r in rows
            ],
        }

    @router.get("/locations")
    async def locations(connection: str = "demo") -> list[dict[str, Any]]:
        """The shop's locations (active or not, from the GraphQL Admin API): the `id` goes into
        the settings' `location_id`."""
        assert shops is not None
        found = await shops.for_connection(connection).list_locations()
        return [
            {
                "id": loc.legacy_resource_id,
                "gid": loc.id,
                "name": loc.name,
                "active": loc.is_active,
                "city": loc.address.city,
            }
            for loc in found
        ]

    running: set[asyncio.Task[Any]] = set()  # syncs started without waiting, kept referenced

    @router.post("/sync", responses={202: {"description": "started; follow it in /sync/runs"}})
    async def sync_now(
        response: Response,
        connection: str = "demo",
        wait: bool = Query(
            True, description="false: answer 202 with the run's id as soon as it starts"
        ),
    ) -> dict[str, Any]:
        """Run a full stock sync of the connection now; 409 while one runs (on any replica).
        With `wait=false` the answer comes once the run is stored, and GET /sync/runs shows
        its `phase` until it ends."""
        settings = await load_settings(db, connection)
        if not settings.enabled:
            raise HTTPException(409, f"stock sync is off for connection {connection!r}")
        assert run_full_sync is not None
        started: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_started(run_id: int) -> None:
            if not started.done():
                started.set_result(run_id)

        task = asyncio.create_task(run_full_sync(connection, settings, on_started=on_started))
        running.add(task)
        task.add_done_callback(running.discard)
        if not wait:
            await asyncio.wait([task, started], return_when=asyncio.FIRST_COMPLETED)
            if started.done():
                response.status_code = 202
                return {"run_id": started.result(), "connection": connection, "status": "running"}
        try:
            result: SyncResult = await task
        except SyncRunning as exc:
            raise HTTPException(409, exc.reason) from exc
        return result.as_dict()

    @router.get("/sync/runs")
    async def sync_runs(
        connection: str = "demo",
        limit: int = limit_query(20, 200),
        offset: int = offset_query(),
    ) -> list[SyncRun]:
        """The latest runs first; a running one says what it is doing in `phase`."""
        query = (
            select(SyncRun)
            .where(SyncRun.connection == connection)
            .order_by(col(SyncRun.id).desc())
            .offset(offset)
            .limit(limit)
        )
        async with db.session() as session:
            return list((await session.exec(query)).all())

    router.include_router(settings_router(db, StockConnectionSettings, StockSyncSettings))

    return router
