"""The customers admin API: links and per-connection settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import col, select

from lb_common.db import Database
from lb_customers.policy import CustomerSettings
from lb_customers.store import CustomerConnectionSettings, CustomerLink


class LinkUpdate(BaseModel):
    customer_number: int = Field(ge=1, le=999_999_999)


def admin_router(db: Database) -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.get("/links")
    async def list_links(
        connection: str | None = None, limit: int = 200, offset: int = 0
    ) -> list[CustomerLink]:
        query = select(CustomerLink).order_by(
            col(CustomerLink.connection), col(CustomerLink.match_key)
        )
        if connection:
            query = query.where(CustomerLink.connection == connection)
        async with db.session() as session:
            return list((await session.exec(query.offset(offset).limit(limit))).all())

    @router.put("/links/{connection}/{match_key}")
    async def put_link(connection: str, match_key: str, update: LinkUpdate) -> CustomerLink:
        """Point a buyer at another ledger customer; later orders use it."""
        link = CustomerLink(
            connection=connection,
            match_key=match_key,
            customer_number=update.customer_number,
            source="manual",
        )
        async with db.transaction() as session:
            await session.merge(link)
        return link

    @router.get("/connections/{connection}/settings")
    async def get_settings(connection: str) -> dict[str, Any]:
        async with db.session() as session:
            row = await session.get(CustomerConnectionSettings, connection)
        return CustomerSettings.model_validate(row.settings if row else {}).model_dump(mode="json")

    @router.put("/connections/{connection}/settings")
    async def put_settings(connection: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            settings = CustomerSettings.model_validate(body)
        except ValidationError as exc:
            raise HTTPException(422, f"invalid settings: {exc.errors(include_url=False)}") from exc
        stored = settings.model_dump(mode="json")
        async with db.transaction() as session:
            await session.merge(CustomerConnectionSettings(connection=connection, settings=stored))
        return stored

    return router
