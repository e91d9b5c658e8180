"""Orders: the list (filtered, paged), one order with everything known about it, the raw body
of a delivery, and replay (one order or a filter's worth), each previewed by a dry run first."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from lb_console import audit
from lb_console.overview import STATUSES
from lb_console.sessions import Session
from lb_console.web import Paging, Posted, console, current, posted, redirect, render

FILTERS = ("status", "connection", "q", "since", "until", "needs_attention")


def _day(value: str, name: str) -> str | None:
    """A date from a form (YYYY-MM-DD) as the UTC midnight the order list wants."""
    if not value:
        return None
    try:
        return f"{date.fromisoformat(value).isoformat()}T00:00:00Z"
    except ValueError:
        raise HTTPException(422, f"{name}: {value!r} is not a date like 2025-03-01") from None


def order_filter(source: dict[str, str]) -> dict[str, Any]:
    return {
        "status": source.get("status") or None,
        "connection": source.get("connection") or None,
        "q": source.get("q") or None,
        "since": _day(source.get("since", ""), "from"),
        "until": _day(source.get("until", ""), "until"),
        "needs_attention": "true" if source.get("needs_attention") == "on" else None,
    }


def order_url(order_key: str) -> str:
    return f"/orders/{quote(order_key, safe=':')}"


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/orders", response_class=HTMLResponse)
    async def orders(
        request: Request,
        offset: int = Query(0, ge=0),
        limit: int = Query(50, ge=1, le=200),
        session: Session = Depends(current),
    ) -> HTMLResponse:
        services = console(request).services
        chosen = {k: request.query_params.get(k, "") for k in FILTERS}
        error = None
        try:
            params = order_filter(chosen)
        except HTTPException as exc:
            error, params = str(exc.detail), {}
        answer = await services.get("ingest", "/orders", limit=limit, offset=offset, **params)
        if not answer.ok:
            error, listed, total = answer.error(), [], 0
        else:
            listed, total = answer.body["orders"], answer.body["total"]
        connections = await services.get("ingest", "/connections")
        return render(
            request,
            "orders.html",
            orders=listed,
            chosen=chosen,
            statuses=STATUSES,
            connections=[c["name"] for c in connections.body] if connections.ok else [],
            paging=Paging(request, limit, offset, total, len(listed)),
            error=error,
            query=urlencode({k: v for k, v in chosen.items() if v}),
            order_url=order_url,
        )

    @r.get("/orders/replay", response_class=HTMLResponse)
    async def bulk_replay_preview(
        request: Request, session: Session = Depends(current)
    ) -> HTMLResponse:
        """What a bulk replay of the filter would do (ingest's dry run), with a button to do it."""
        chosen = {k: request.query_params.get(k, "") for k in FILTERS}
        params = order_filter(chosen)
        answer = await console(request).services.call(
            "ingest", "POST", "/orders/replay", params={**params, "dry_run": "true"}
        )
        return render(
            request,
            "bulk_replay.html",
            chosen=chosen,
            preview=answer.body if answer.ok else None,
            error=None if answer.ok else answer.error(),
            order_url=order_url,
        )

    @r.post("/orders/replay")
    async def bulk_replay(request: Request, form: Posted = Depends(posted)) -> Response:
        chosen = {k: form.get(k) for k in FILTERS}
        params = order_filter(chosen)
        c = console(request)
        answer = await c.services.call("ingest", "POST", "/orders/replay", params=params)
        described = (
            urlencode({k: v for k, v in chosen.items() if v}) or "orders that need attention"
        )
        if not answer.ok:
            await audit.record(
                c.db, form.operator, "orders.replay", described, outcome=answer.error()
            )
            return redirect("/orders", f"Bulk replay refused: {answer.error()}")
        sent = [x for x in answer.body["results"] if 200 <= x["status_code"] < 300]
        outcome = f"{len(sent)} of {answer.body['matched']} sent on"
        await audit.record(c.db, form.operator, "orders.replay", described, outcome=outcome)
        return redirect(
            "/orders?" + urlencode({k: v for k, v in chosen.items() if v}),
            f"Bulk replay: {outcome}.",
        )

    @r.get("/orders/{order_key}", response_class=HTMLResponse)
    async def order(
        request: Request, order_key: str, session: Session = Depends(current)
    ) -> Response:
        services = console(request).services
        answer = await services.get("ingest", f"/orders/{quote(order_key, safe=':')}")
        if answer.status == 404:
            return render(request, "missing.html", status_code=404, what=f"No order {order_key}.")
        if not answer.ok:
            return render(request, "missing.html", status_code=502, what=answer.error())
        invoice = await services.get("invoicing", f"/invoices/{quote(order_key, safe=':')}")
        credits = await services.get("invoicing", "/credit-notes", order_key=order_key)
        return render(
            request,
            "order.html",
            order=answer.body,
            invoice=invoice.body if invoice.ok else None,
            credit_notes=credits.body if credits.ok else [],
            order_url=order_url,
        )

    @r.get("/orders/{order_key}/replay", response_class=HTMLResponse)
    async def replay_preview(
        request: Request, order_key: str, session: Session = Depends(current)
    ) -> HTMLResponse:
        """Ingest's dry run of the replay: what would be sent, or why not; then the button."""
        answer = await console(request).services.call(
            "ingest",
            "POST",
            f"/orders/{quote(order_key, safe=':')}/replay",
            params={"dry_run": "true"},
        )
        return render(
            request,
            "replay.html",
            order_key=order_key,
            preview=answer.body,
            possible=answer.ok,
            error=None if answer.ok else answer.error(),
            order_url=order_url,
        )

    @r.post("/orders/{order_key}/replay")
    async def replay(request: Request, order_key: str, form: Posted = Depends(posted)) -> Response:
        c = console(request)
        answer = await c.services.call(
            "ingest", "POST", f"/orders/{quote(order_key, safe=':')}/replay"
        )
        outcome = "sent on" if answer.ok else answer.error()
        await audit.record(
            c.db,
            form.operator,
            "order.replay",
            order_key,
            reason=form.get("reason"),
            outcome=outcome,
        )
        notice = (
            "Replay sent: the timeline below shows how it goes."
            if answer.ok
            else f"Replay refused: {outcome}"
        )
        return redirect(order_url(order_key), notice)

    @r.get("/deliveries/{delivery_id}", response_class=HTMLResponse)
    async def delivery_body(
        request: Request, delivery_id: int, order_key: str = "", session: Session = Depends(current)
    ) -> Response:
        response = await console(request).services.raw("ingest", f"/deliveries/{delivery_id}/body")
        if response.status_code != 200:
            return render(
                request, "missing.html", status_code=404, what=f"No delivery {delivery_id}."
            )
        return render(
            request,
            "delivery.html",
            delivery_id=delivery_id,
            body=response.content.decode("utf-8", errors="replace"),
            order_key=order_key,
            order_url=order_url,
        )

    return r
