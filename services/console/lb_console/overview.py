"""The overview: today's orders by status per connection, what needs a person, parked messages,
today's ledger calls against each agreement's daily budget, and each connection's last
reconciliation and stock sync. "Today" is the UTC day (from 00:00 UTC); the page says so."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from lb_console.backend import SERVICES, Services, ServiceUnavailable
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


def start_of_today() -> datetime:
    """00:00 UTC today: the overview's "today"."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def order_counts(
    services: Services, connections: list[str], since: datetime
) -> dict[str, dict[str, int]]:
    """Orders received since `since` per connection and status: one grouped count in ingest
    (from its received_at index)."""
    answer = await services.get("ingest", "/orders/counts", since=since.isoformat())
    found: dict[str, dict[str, int]] = answer.body["counts"] if answer.ok else {}
    return {c: found.get(c, {}) for c in connections}


async def parked_counts(services: Services) -> dict[str, int | None]:
    async def count(service: str) -> tuple[str, int | None]:
        answer = await services.get(service, "/parked", limit=1000)
        return service, len(answer.body) if answer.ok else None

    return dict(await asyncio.gather(*(count(s) for s in SERVICES)))


@dataclass
class AgreementCalls:
    """Today's calls to one agreement, summed over the services (and their replicas)."""

    agreement: str  # the fingerprint the services count under (no token)
    calls: int = 0
    by_service: dict[str, int] = field(default_factory=dict)
    by_connection: dict[str, int] = field(default_factory=dict)

    def share(self, budget: int) -> float:
        return self.calls / budget


async def ledger_calls_today(
    services: Services, day: str
) -> tuple[list[AgreementCalls], list[str]]:
    """Every service's count of its ledger calls today, per agreement; and the services that
    did not answer (their calls are missing from the sums)."""

    async def one(service: str) -> tuple[str, list[dict[str, Any]] | None]:
        try:
            answer = await services.get(service, "/ledger-calls", day=day)
        except ServiceUnavailable:
            return service, None
        return service, answer.body["calls"] if answer.ok else None

    agreements: dict[str, AgreementCalls] = {}
    silent = []
    for service, rows in await asyncio.gather(*(one(s) for s in SERVICES)):
        if rows is None:
            silent.append(service)
            continue
        for row in rows:
            a = agreements.setdefault(row["agreement"], AgreementCalls(row["agreement"]))
            n = int(row["calls"])
            a.calls += n
            a.by_service[service] = a.by_service.get(service, 0) + n
            a.by_connection[row["connection"]] = a.by_connection.get(row["connection"], 0) + n
    ordered = sorted(agreements.values(), key=lambda a: -a.calls)
    return ordered, silent


async def last_runs(
    services: Services, connections: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per connection: its last reconciliation (ingest) and last stock sync (inventory)."""

    async def reconciliations() -> dict[str, Any] | None:
        try:
            answer = await services.get("ingest", "/reconciliations")
        except ServiceUnavailable:
            return None
        return {r["connection"]: r for r in answer.body} if answer.ok else None

    async def stock_sync(name: str) -> dict[str, Any] | None:
        try:
            answer = await services.get("inventory", "/sync/runs", connection=name, limit=1)
        except ServiceUnavailable:
            return None
        return (answer.body[0] if answer.body else {}) if answer.ok else None

    names = [c["name"] for c in connections]
    found, *syncs = await asyncio.gather(reconciliations(), *(stock_sync(n) for n in names))
    return {
        name: {
            "reconciliation": None if found is None else found.get(name, {}),
            "stock_sync": sync,
        }
        for name, sync in zip(names, syncs, strict=True)
    }


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/", response_class=HTMLResponse)
    async def overview(request: Request, session: Session = Depends(current)) -> HTMLResponse:
        c = console(request)
        services = c.services
        connections_answer = await services.get("ingest", "/connections")
        shown = (
            [x for x in connections_answer.body if not x.get("deleted_at")]
            if connections_answer.ok
            else []
        )
        connections = [x["name"] for x in shown]
        since = start_of_today()
        counts, parked, attention, (agreements, silent), runs = await asyncio.gather(
            order_counts(services, connections, since),
            parked_counts(services),
            services.get("ingest", "/orders", needs_attention="true", limit=20),
            ledger_calls_today(services, since.date().isoformat()),
            last_runs(services, shown),
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
            today=since,
            agreements=agreements,
            silent=silent,
            budget=c.ledger_daily_calls,
            runs=runs,
            platforms={x["name"]: x["platform"] for x in shown},
            quote=quote,
        )

    return r
