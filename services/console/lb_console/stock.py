"""Stock: the mismatches the last syncs found, the runs, and a button to sync now."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from lb_common.db import utcnow
from lb_console import audit
from lb_console.sessions import Session
from lb_console.web import Paging, Posted, console, current, posted, redirect, render


def _outcome(body: dict[str, Any] | None) -> str:
    body = body or {}
    return (
        f"sync {body.get('status', 'done')}: {body.get('changed', 0)} changed, "
        f"{body.get('mismatches', 0)} mismatches"
    )


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
        """Start a sync and follow it on its own page (it can take minutes on a big shop)."""
        c = console(request)
        connection = form.get("connection") or "demo"
        answer = await c.services.call(
            "inventory", "POST", "/sync", params={"connection": connection, "wait": "false"}
        )
        if answer.status == 202:
            run_id = answer.body["run_id"]
            await audit.record(
                c.db, form.operator, "stock.sync", connection, outcome=f"started run {run_id}"
            )
            return redirect(f"/stock/runs/{run_id}?{urlencode({'connection': connection})}")
        if answer.status == 409:  # one runs already (scheduled, or started elsewhere): follow it
            runs = await c.services.get("inventory", "/sync/runs", connection=connection, limit=1)
            latest = runs.body[0] if runs.ok and runs.body else None
            if latest is not None and latest["status"] == "running":
                await audit.record(
                    c.db,
                    form.operator,
                    "stock.sync",
                    connection,
                    outcome=f"run {latest['id']} was already running",
                )
                return redirect(
                    f"/stock/runs/{latest['id']}?{urlencode({'connection': connection})}",
                    "A sync of this connection was already running: this is its progress.",
                )
        outcome = _outcome(answer.body) if answer.ok else f"not run: {answer.error()}"
        await audit.record(c.db, form.operator, "stock.sync", connection, outcome=outcome)
        return redirect(f"/stock?{urlencode({'connection': connection})}", f"Stock {outcome}.")

    @r.get("/stock/runs/{run_id}", response_class=HTMLResponse)
    async def sync_run(
        request: Request,
        run_id: int = Path(ge=1, le=2**31 - 1),
        connection: str = "demo",
        session: Session = Depends(current),
    ) -> HTMLResponse:
        """One sync run; while it runs the page reloads itself every second (no script)."""
        answer = await console(request).services.get(
            "inventory", "/sync/runs", connection=connection, limit=200
        )
        runs = answer.body if answer.ok else []
        run = next((x for x in runs if x["id"] == run_id), None)
        error = None if answer.ok else answer.error()
        if run is None and error is None:
            error = f"No sync run {run_id} for {connection} among the last 200."
        running = run is not None and run["status"] == "running"
        elapsed = None
        if run is not None:
            began = datetime.fromisoformat(run["started_at"])
            ended = datetime.fromisoformat(run["finished_at"]) if run["finished_at"] else utcnow()
            elapsed = round((ended - began).total_seconds(), 1)
        return render(
            request,
            "stock_run.html",
            status_code=200 if run else 404,
            connection=connection,
            run=run,
            running=running,
            elapsed=elapsed,
            error=error,
        )

    @r.post("/stock/resolve")
    async def resolve(request: Request, form: Posted = Depends(posted)) -> Response:
        """Close a level difference: keep the ledger's figure, or the shop's (ledger fixed)."""
        c = console(request)
        connection, sku, keep = form.get("connection") or "demo", form.get("sku"), form.get("keep")
        back = f"/stock?{urlencode({'connection': connection, 'kind': 'level_differs'})}"
        if keep not in ("ledger", "shop") or not sku:
            return redirect(back, "Nothing resolved: choose to keep the ledger's or the shop's.")
        answer = await c.services.call(
            "inventory",
            "POST",
            f"/mismatches/level_differs/{quote(sku, safe='')}/resolve",
            params={"connection": connection},
            json={"keep": keep},
        )
        if answer.ok:
            body = answer.body
            outcome = (
                f"{sku}: kept the {keep}'s figure; the shop shows {body['shop_level']} "
                f"(ledger {body['ledger_available']} free, {body['held_by_unbooked_orders']} "
                "held by unbooked orders)"
            )
        else:
            outcome = f"{sku} not resolved: {answer.error()}"
        await audit.record(
            c.db,
            form.operator,
            "stock.resolve",
            f"{connection} {sku}",
            reason=form.get("reason"),
            outcome=outcome,
        )
        return redirect(back, outcome + ".")

    return r
