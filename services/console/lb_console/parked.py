"""Parked messages of every service: listed together, retried or dismissed with a reason that
goes into the audit log."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from lb_console import audit
from lb_console.backend import SERVICES
from lb_console.orders import order_url
from lb_console.sessions import Session
from lb_console.web import Paging, Posted, console, current, posted, redirect, render

# The parked list has no paging of its own (it walks the parking queue): we read this many
# per service and page over them here.
READ_PER_SERVICE = 1000


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/parked", response_class=HTMLResponse)
    async def parked(
        request: Request,
        service: str = "",
        q: str = "",
        offset: int = Query(0, ge=0),
        limit: int = Query(50, ge=1, le=200),
        session: Session = Depends(current),
    ) -> HTMLResponse:
        services = console(request).services
        wanted = [service] if service in SERVICES else list(SERVICES)
        answers = await asyncio.gather(
            *(services.get(s, "/parked", limit=READ_PER_SERVICE) for s in wanted)
        )
        messages: list[dict[str, Any]] = []
        errors = []
        for name, answer in zip(wanted, answers, strict=True):
            if not answer.ok:
                errors.append(f"{name}: {answer.error()}")
                continue
            messages.extend({**m, "service": name} for m in answer.body)
        needle = q.strip().lower()
        if needle:
            messages = [
                m
                for m in messages
                if needle
                in " ".join(str(m.get(k) or "") for k in ("order_key", "type", "reason")).lower()
            ]
        shown = messages[offset : offset + limit]
        return render(
            request,
            "parked.html",
            messages=shown,
            services=SERVICES,
            chosen={"service": service, "q": q},
            errors=errors,
            paging=Paging(request, limit, offset, len(messages), len(shown)),
            order_url=order_url,
        )

    @r.post("/parked/{service}/{message_id}/{action}")
    async def act(
        request: Request, service: str, message_id: str, action: str, form: Posted = Depends(posted)
    ) -> Response:
        if service not in SERVICES or action not in ("retry", "dismiss"):
            return redirect("/parked", f"Unknown service or action: {service} {action}.")
        reason = form.get("reason")
        if action == "dismiss" and not reason:
            return redirect(
                "/parked", "Say why you dismiss a message: the reason is kept in the audit log."
            )
        c = console(request)
        if action == "retry":
            answer = await c.services.call(service, "POST", f"/parked/{message_id}/retry")
        else:
            answer = await c.services.call(service, "DELETE", f"/parked/{message_id}")
        if answer.ok:
            outcome = (
                "dismissed"
                if action == "dismiss" or "dismissed" in (answer.body or {})
                else "sent back to work"
            )
        else:
            outcome = answer.error()
        await audit.record(
            c.db,
            form.operator,
            f"parked.{action}",
            f"{service} {message_id}",
            reason=reason,
            outcome=outcome,
        )
        return redirect("/parked", f"Message {message_id} ({service}): {outcome}.")

    return r
