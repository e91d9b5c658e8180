"""The inventory admin API: stock, SKU links, the mismatch report, full sync, and per-connection
stock sync settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import func
from sqlmodel import col, select

from lb_common.connection_settings import settings_router
from lb_common.db import Database
from lb_inventory.policy import StockSyncSettings
from lb_inventory.store import MismatchRow, SkuLink, StockConnectionSettings, StockLevel, SyncRun
from lb_inventory.sync import SyncResult, load_settings


def admin_router(db: Database, run_full_sync: Callable[..., Any] | None = None) -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.get("/stock")
    async def stock(
        connection: str | None = None,
        limit: int = Query(500, ge=1, le=5000),
        offset: int = Query(0, ge=0),
    ) -> list[StockLevel]:
        query = select(StockLevel).order_by(
            col(StockLevel.connection), col(StockLevel.product_number)
        )
        if connection:
            query = query.where(StockLevel.connection == connection)
        async with db.session() as session:
            return list((await session.exec(query.offset(offset).limit(limit))).all())

    @router.get("/links")
    async def links(
        connection: str = "demo",
        sku: str | None = None,
        limit: int = Query(500, ge=1, le=5000),
        offset: int = Query(0, ge=0),
    ) -> list[SkuLink]:
        query = select(SkuLink).where(SkuLink.connection == connection).order_by(col(SkuLink.sku))
        if sku:
            query = query.where(SkuLink.sku == sku)
        async with db.session() as session:
            return list((await session.exec(query.offset(offset).limit(limit))).all())

    @router.get("/mismatches")
    async def mismatches(
        connection: str = "demo",
        kind: str | None = None,
        limit: int = Query(500, ge=1, le=5000),
        offset: int = Query(0, ge=0),
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

    @router.post("/sync")
    async def sync_now(connection: str = "demo") -> dict[str, Any]:
        settings = await load_settings(db, connection)
        if not settings.enabled:
            raise HTTPException(409, f"stock sync is off for connection {connection!r}")
        assert run_full_sync is not None
        result: SyncResult = await run_full_sync(connection, settings)
        return result.as_dict()

    @router.get("/sync/runs")
    async def sync_runs(
        connection: str = "demo",
        limit: int = Query(20, ge=1, le=200),
        offset: int = Query(0, ge=0),
    ) -> list[SyncRun]:
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
