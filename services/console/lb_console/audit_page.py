"""The audit log page: who did what, when, paged and filtered by action and operator."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from lb_console import audit
from lb_console.sessions import Session
from lb_console.web import Paging, console, current, render


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/audit", response_class=HTMLResponse)
    async def audit_log(
        request: Request,
        action: str = "",
        operator: str = "",
        offset: int = Query(0, ge=0),
        limit: int = Query(50, ge=1, le=500),
        session: Session = Depends(current),
    ) -> HTMLResponse:
        total, rows = await audit.page(
            console(request).db,
            action=action or None,
            operator=operator or None,
            limit=limit,
            offset=offset,
        )
        return render(
            request,
            "audit.html",
            rows=rows,
            chosen={"action": action, "operator": operator},
            paging=Paging(request, limit, offset, total, len(rows)),
        )

    return r
