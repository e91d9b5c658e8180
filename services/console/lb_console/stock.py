"""Stock: the mismatches the last syncs found, the runs, and a button to sync now."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from lb_console import audit
from lb_console.sessions import Session
from lb_console.web import Paging, Posted, console, current, posted, redirect, render


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/stock", response_class=HTMLResponse)
    async def stock(
        request: Request,
        connection: str = "",
        kind: str = "",
        offset: int = Query(0, ge=0),
        limit: int = Query(50, ge=1, le=500),
        session: Session = Depends(current),
    ) -> HTMLResponse:
        services = console(request).services
        listed = await services.get("ingest", "/connections")
        connections = [c["name"] for c in listed.body] if listed.ok else []
        connection = connection or (connections[0] if connections else "demo")
        mismatches, runs = await asyncio.gather(
            services.get(
                "inventory",
                "/mismatches",
                connection=connection,
                kind=kind,
                limit=limit,
                offset=offset,
            ),
            services.get("inventory", "/sync/runs", connection=connection, limit=10),
        )
        found = mismatches.body if mismatches.ok else {"counts": {}, "items": []}
        return render(
            request,
            "stock.html",
            connections=connections,
            chosen={"connection": connection, "kind": kind},
            counts=found["counts"],
            items=found["items"],
            runs=runs.body if runs.ok else [],
            error=None if mismatches.ok else mismatches.error(),
            paging=Paging(
                request, limit, offset, sum(found["counts"].values()), len(found["items"])
            ),
        )

    @r.post("/stock/sync")
    async def sync_now(request: Request, form: Posted = Depends(posted)) -> Response:
        c = console(request)
        connection = form.get("connection") or "demo"
        answer = await c.services.call(
            "inventory", "POST", "/sync", params={"connection": connection}
        )
        if answer.ok:
            body = answer.body or {}
            outcome = (
                f"sync {body.get('status', 'done')}: {body.get('changed', 0)} changed, "
                f"{body.get('mismatches', 0)} mismatches"
            )
        else:
            outcome = f"not run: {answer.error()}"
        await audit.record(c.db, form.operator, "stock.sync", connection, outcome=outcome)
        return redirect(f"/stock?connection={connection}", f"Stock {outcome}.")

    return r
