"""The invoicing admin API: the documents made for orders, and per-connection settings."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy import Numeric, cast
from sqlmodel import col, select

from lb_common.admin_params import (
    amount_query,
    customer_number_query,
    limit_query,
    offset_query,
)
from lb_common.connection_settings import settings_router
from lb_common.db import Database
from lb_common.openapi_links import Link, links_to
from lb_invoicing.policy import InvoiceSettings
from lb_invoicing.reports import as_csv, customer_totals
from lb_invoicing.store import CreditNoteLink, InvoiceConnectionSettings, InvoiceLink

# The ledger's ids are text in our tables (the port's ids are strings). The admin JSON keeps
# showing a numeric id as a number, as it did when the columns held e-conomic's numbers (the
# console and scripts read them so); any other id is a string.
_LEDGER_IDS = ("customer_number", "draft_invoice_number", "booked_invoice_number")


def _json_id(value: Any) -> Any:
    if isinstance(value, str) and value.isdigit() and (value == "0" or value[0] != "0"):
        return int(value)
    return value


def _with_json_ids(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _json_id(v) if k in _LEDGER_IDS else v for k, v in row.items()}


def _view(link: InvoiceLink | CreditNoteLink) -> dict[str, Any]:
    return _with_json_ids(link.model_dump(exclude={"document"}))


def admin_router(db: Database) -> APIRouter:
    router = APIRouter(tags=["admin"])

    _invoice = links_to(
        invoice=Link("GET", "/invoices/{order_key}", order_key="$response.body#/0/order_key")
    )

    @router.get("/invoices", responses=_invoice)
    async def list_invoices(
        connection: str | None = None,
        customer_number: int | None = customer_number_query(),
        step: str | None = None,
        since: date | None = Query(None, description="invoice date on or after"),
        until: date | None = Query(None, description="invoice date before"),
        min_total: Decimal | None = amount_query(None, "gross amount at least"),
        limit: int = limit_query(100, 1000),
        offset: int = offset_query(),
    ) -> list[dict[str, Any]]:
        """Purchase history: invoices by customer, by date, by amount."""
        query = select(InvoiceLink).order_by(col(InvoiceLink.updated_at).desc())
        if connection:
            query = query.where(InvoiceLink.connection == connection)
        if customer_number is not None:
            # The ledger's ids are text in our tables; the filter takes a number (e-conomic's,
            # QuickBooks' Ids are numbers too).
            query = query.where(InvoiceLink.customer_number == str(customer_number))
        if step:
            query = query.where(InvoiceLink.step == step)
        if since:
            query = query.where(col(InvoiceLink.invoice_date) >= since)
        if until:
            query = query.where(col(InvoiceLink.invoice_date) < until)
        if min_total is not None:
            query = query.where(cast(col(InvoiceLink.gross_amount), Numeric) >= min_total)
        async with db.session() as session:
            rows = (await session.exec(query.offset(offset).limit(limit))).all()
        return [_view(r) for r in rows]

    @router.get("/credit-notes", responses=_invoice)
    async def list_credit_notes(
        order_key: str | None = None,
        customer_number: int | None = customer_number_query(),
        limit: int = limit_query(100, 1000),
        offset: int = offset_query(),
    ) -> list[dict[str, Any]]:
        query = select(CreditNoteLink).order_by(col(CreditNoteLink.updated_at).desc())
        if order_key:
            query = query.where(CreditNoteLink.order_key == order_key)
        if customer_number is not None:
            query = query.where(CreditNoteLink.customer_number == str(customer_number))
        async with db.session() as session:
            rows = (await session.exec(query.offset(offset).limit(limit))).all()
        return [_view(r) for r in rows]

    @router.get("/reports/customers", response_model=None)
    async def customers_report(
        min_total: Decimal = amount_query(Decimal(0), "total at least, per currency"),
        since: date | None = Query(None, description="documents dated on or after"),
        format: str = Query("json", pattern="^(json|csv)$"),
        limit: int = limit_query(1000, 10_000),
        offset: int = offset_query(),
    ) -> Response | list[dict[str, Any]]:
        """Customers who bought for at least `min_total` since `since` (a campaign list),
        largest first."""
        async with db.session() as session:
            rows = await customer_totals(
                session, since=since, min_total=min_total, limit=limit, offset=offset
            )
        if format == "csv":
            return Response(
                as_csv(rows),
                media_type="text/csv",
                headers={"Content-Disposition": 'attachment; filename="customers.csv"'},
            )
        return [_with_json_ids({**asdict(r), "total": str(r.total)}) for r in rows]

    @router.get("/invoices/{order_key}")
    async def get_invoice(order_key: str) -> dict[str, Any]:
        async with db.session() as session:
            link = await session.get(InvoiceLink, order_key)
        if link is None:
            raise HTTPException(404, f"no invoice for order {order_key!r}")
        return {**_view(link), "document": link.document}

    router.include_router(settings_router(db, InvoiceConnectionSettings, InvoiceSettings))

    return router
