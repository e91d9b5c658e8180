"""The inventory admin API: the stock view."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import col, select

from lb_common.db import Database
from lb_inventory.store import StockLevel


def admin_router(db: Database) -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.get("/stock")
    async def stock(connection: str | None = None) -> list[StockLevel]:
        query = select(StockLevel).order_by(
            col(StockLevel.connection), col(StockLevel.product_number)
        )
        if connection:
            query = query.where(StockLevel.connection == connection)
        async with db.session() as session:
            return list((await session.exec(query)).all())

    return router
