"""The invoicing admin API: the documents made for orders, and per-connection settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import ValidationError
from sqlmodel import col, select

from lb_common.db import Database
from lb_invoicing.policy import InvoiceSettings
from lb_invoicing.store import InvoiceConnectionSettings, InvoiceLink


def _view(link: InvoiceLink) -> dict[str, Any]:
    return link.model_dump(exclude={"document"})


def admin_router(db: Database) -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.get("/invoices")
    async def list_invoices(
        connection: str | None = None,
        customer_number: int | None = None,
        step: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        query = select(InvoiceLink).order_by(col(InvoiceLink.updated_at).desc())
        if connection:
            query = query.where(InvoiceLink.connection == connection)
        if customer_number is not None:
            query = query.where(InvoiceLink.customer_number == customer_number)
        if step:
            query = query.where(InvoiceLink.step == step)
        async with db.session() as session:
            rows = (await session.exec(query.offset(offset).limit(limit))).all()
        return [_view(r) for r in rows]

    @router.get("/invoices/{order_key}")
    async def get_invoice(order_key: str) -> dict[str, Any]:
        async with db.session() as session:
            link = await session.get(InvoiceLink, order_key)
        if link is None:
            raise HTTPException(404, f"no invoice for order {order_key!r}")
        return {**_view(link), "document": link.document}

    @router.get("/connections/{connection}/settings")
    async def get_settings(connection: str) -> dict[str, Any]:
        async with db.session() as session:
            row = await session.get(InvoiceConnectionSettings, connection)
        return InvoiceSettings.model_validate(row.settings if row else {}).model_dump(mode="json")

    @router.put("/connections/{connection}/settings")
    async def put_settings(connection: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            settings = InvoiceSettings.model_validate(body)
        except ValidationError as exc:
            raise HTTPException(422, f"invalid settings: {exc.errors(include_url=False)}") from exc
        stored = settings.model_dump(mode="json")
        async with db.transaction() as session:
            await session.merge(InvoiceConnectionSettings(connection=connection, settings=stored))
        return stored

    return router
