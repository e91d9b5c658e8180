"""The overview: orders by status per connection, what needs a person, parked messages."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from lb_console.backend import SERVICES, Services
from lb_console.sessions import Session
from lb_console.web import console, current, render

# The order statuses of docs/orders.md, in the order an order goes through them.
STATUSES = (
    "received",
    "waiting",
    "skipped",
    "cancelled",
    "transferred",
    "customer_resolved",
    "booked",
    "partly_credited",
    "credited",
    "failed",
    "credit_failed",
)


async def order_counts(services: Services, connections: list[str]) -> dict[str, dict[str, int]]:
    """Orders per connection and status: one grouped count in ingest."""
    answer = await services.get("ingest", "/orders/counts")
    found: dict[str, dict[str, int]] = answer.body["counts"] if answer.ok else {}
    return {c: found.get(c, {}) for c in connections}


async def parked_counts(services: Services) -> dict[str, int | None]:
    async def count(service: str) -> tuple[str, int | None]:
        answer = await services.get(service, "/parked", limit=1000)
        return service, len(answer.body) if answer.ok else None

    return dict(await asyncio.gather(*(count(s) for s in SERVICES)))


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/", response_class=HTMLResponse)
    async def overview(request: Request, session: Session = Depends(current)) -> HTMLResponse:
        services = console(request).services
        connections_answer = await services.get("ingest", "/connections")
        connections = [c["name"] for c in connections_answer.body] if connections_answer.ok else []
        counts, parked, attention = await asyncio.gather(
            order_counts(services, connections),
            parked_counts(services),
            services.get("ingest", "/orders", needs_attention="true", limit=20),
        )
        attention_orders: list[dict[str, Any]] = attention.body["orders"] if attention.ok else []
        return render(
            request,
            "overview.html",
            statuses=STATUSES,
            counts=counts,
            parked=parked,
            attention=attention_orders,
            attention_total=attention.body["total"] if attention.ok else 0,
        )

    return r
