"""Reports: customers who bought for at least an amount since a date, on screen and as CSV."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from lb_console import audit
from lb_console.sessions import Session
from lb_console.web import Paging, console, current, render


def _criteria(min_total: str, since: str) -> tuple[dict[str, str], dict[str, str]]:
    """The report's parameters, and what is wrong with the ones given (by field)."""
    errors: dict[str, str] = {}
    params: dict[str, str] = {}
    if min_total.strip():
        try:
            amount = Decimal(min_total.strip().replace(",", "."))
            if amount < 0:
                raise InvalidOperation
            params["min_total"] = str(amount)
        except InvalidOperation:
            errors["min_total"] = f"{min_total!r} is not an amount like 5000 or 1250.50"
    if since.strip():
        try:
            params["since"] = date.fromisoformat(since.strip()).isoformat()
        except ValueError:
            errors["since"] = f"{since!r} is not a date like 2025-03-01"
    return params, errors


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/reports/customers", response_class=HTMLResponse)
    async def customers(
        request: Request,
        min_total: str = "",
        since: str = "",
        offset: int = Query(0, ge=0),
        limit: int = Query(100, ge=1, le=1000),
        session: Session = Depends(current),
    ) -> HTMLResponse:
        params, errors = _criteria(min_total, since)
        rows: list[dict[str, str]] = []
        error = None
        if not errors:
            answer = await console(request).services.get(
                "invoicing", "/reports/customers", limit=limit, offset=offset, **params
            )
            rows, error = (answer.body, None) if answer.ok else ([], answer.error())
        return render(
            request,
            "report_customers.html",
            rows=rows,
            chosen={"min_total": min_total, "since": since},
            errors=errors,
            error=error,
            csv_query=request.url.query,
            paging=Paging(request, limit, offset, None, len(rows)),
        )

    @r.get("/reports/customers.csv")
    async def customers_csv(
        request: Request, min_total: str = "", since: str = "", session: Session = Depends(current)
    ) -> Response:
        params, errors = _criteria(min_total, since)
        if errors:
            return Response("; ".join(errors.values()), status_code=422, media_type="text/plain")
        c = console(request)
        answer = await c.services.get(
            "invoicing", "/reports/customers", format="csv", limit=10_000, **params
        )
        await audit.record(
            c.db,
            session.operator,
            "report.customers.csv",
            ", ".join(f"{k}={v}" for k, v in params.items()),
            outcome="downloaded" if answer.ok else answer.error(),
        )
        if not answer.ok:
            return Response(answer.error(), status_code=answer.status, media_type="text/plain")
        return Response(
            answer.text,
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="customers.csv"'},
        )

    return r
