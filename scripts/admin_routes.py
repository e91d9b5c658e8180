"""Print the HTTP route tables of docs/admin-api.md, from each service's FastAPI app.

    .venv/bin/python scripts/admin_routes.py      # print them; `make docs` writes them into the doc

The app is the one the service serves: `bootstrap().app_factory()` (built, never started).
Method, path and query parameters come from the app's routes and OpenAPI schema; auth from the
schema's security (the bearer token `create_admin_app` puts on `routers`); routes outside the
schema (ingest's webhook endpoint is a plain Starlette route, for speed) are open: they check
their own credentials. What a route does: the endpoint's docstring (first paragraph), else
`PURPOSES` below. A route with neither is reported on stderr (exit 1): give a new route a
docstring.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute, Route

if __package__ in (None, ""):  # run as a file: make `scripts.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.service_parts import built_services

# What a route does, for endpoints without a docstring, keyed by "METHOD path", or by
# "service METHOD path" where services share a path for different things.
PURPOSES: dict[str, str] = {
    "GET /healthz": "The process is up",
    "GET /readyz": "Database and broker reachable (503 and the failing part otherwise)",
    "GET /metrics": "Prometheus metrics",
    "GET /parked": "Messages this service parked (failed for good), with the reason",
    "POST /parked/{message_id}/retry": "Send a parked message back to the work queue with a "
    "fresh retry budget",
    "DELETE /parked/{message_id}": "Drop a parked message",
    "GET /connections/{connection}/settings": "The connection's settings of this service "
    "(defaults where none are stored)",
    # ingest
    "GET /orders": "Orders by status, connection, text (order name, e-mail) and time, paged",
    "GET /orders/{order_key}": "One order: its newest version, its timeline, every delivery and the "
    "versions seen",
    "POST /orders/{order_key}/replay": "Send a failed or stuck order on again (`dry_run`: only "
    "say what would happen)",
    "GET /deliveries": "Webhook deliveries by outcome and connection, paged",
    "GET /deliveries/{delivery_id}/body": "A delivery's raw body, byte for byte",
    "GET /connections": "Shop connections: platform, enabled, settings (secrets never shown)",
    "PUT /connections/{name}": "Create or change a connection: platform, webhook secrets "
    "(write-only, several during a rotation), enabled, settings",
    # customers
    "customers GET /links": "Buyer (match key) ↔ ledger customer links, paged",
    "GET /connections/{connection}/merges": "Merges made: which customers now book on which "
    "survivor",
    # invoicing
    "GET /credit-notes": "Credit notes by order or customer",
    "GET /invoices/{order_key}": "The order's invoice: the step reached, numbers, amounts and the "
    "booked document",
    # inventory
    "GET /stock": "Last known ledger stock per product",
    "inventory GET /links": "SKU ↔ ledger product ↔ shop inventory item links, with the levels "
    "last seen and pushed",
    "GET /mismatches": "The mismatch report of the last full sync and shop reports, by kind",
    "POST /sync": "Run a full stock sync of the connection now",
    "GET /sync/runs": "Full sync runs with their results",
}


@dataclass(frozen=True)
class RouteDoc:
    method: str
    path: str
    query: tuple[str, ...]
    auth: str
    purpose: str | None


def _leaves(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, Route]]:
    """Every endpoint route with its full path, looking into included routers: older FastAPI
    copies them into `app.routes`, newer keeps each include as one node holding the router."""
    for route in routes:
        if isinstance(route, Route):
            yield prefix + route.path, route
            continue
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            inner = prefix + str(getattr(context, "prefix", "") or "")
            yield from _leaves(included.routes, inner)


def _first_paragraph(text: str | None) -> str | None:
    if not text or not text.strip():
        return None
    return " ".join(text.strip().split("\n\n")[0].split()).removesuffix(".")


def _purpose(service: str, key: str, docstring: str | None) -> str | None:
    return _first_paragraph(docstring) or PURPOSES.get(f"{service} {key}") or PURPOSES.get(key)


def routes_of(service: str, app: FastAPI) -> list[RouteDoc]:
    schema: dict[str, Any] = app.openapi()["paths"]
    own_docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    out: list[RouteDoc] = []
    for path, route in _leaves(app.routes):
        if path in own_docs:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            key = f"{method} {path}"
            operation = schema.get(path, {}).get(method.lower())
            if operation is None:  # outside the schema: a plain route, open
                purpose = _purpose(service, key, route.endpoint.__doc__)
                out.append(RouteDoc(method, path, (), "open", purpose))
                continue
            query = tuple(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")
            secured = any("HTTPBearer" in entry for entry in operation.get("security", []))
            purpose = _purpose(service, key, operation.get("description"))
            out.append(RouteDoc(method, path, query, "token" if secured else "open", purpose))
    return out


HEADER = ["| method | path | query | auth | what it does |", "|---|---|---|---|---|"]


def _rows(routes: Iterable[RouteDoc]) -> list[str]:
    rows = []
    for r in routes:
        query = ", ".join(f"`{q}`" for q in r.query)
        purpose = (r.purpose or "").replace("|", "\\|")
        rows.append(f"| {r.method} | `{r.path}` | {query} | {r.auth} | {purpose} |")
    return rows


def render() -> tuple[str, list[str]]:
    """The Markdown, and the problems found (each makes the generator exit 1)."""
    problems: list[str] = []
    with built_services() as services:
        per_service = [(s.name, s.port, routes_of(s.name, s.parts.app_factory())) for s in services]
    for name, _, routes in per_service:
        for r in routes:
            if r.purpose is None:
                problems.append(f"{name}: {r.method} {r.path} has no docstring")
    # Routes every service serves alike (health, metrics, parking) are listed once.
    shared = [r for r in per_service[0][2] if all(r in routes for _, _, routes in per_service)]
    out = ["### Every service", "", *HEADER, *_rows(shared)]
    for name, port, routes in per_service:
        own = [r for r in routes if r not in shared]
        out += ["", f"### {name} (port {port})", "", *HEADER, *_rows(own)]
    return "\n".join(out) + "\n", problems


def main() -> int:
    text, problems = render()
    for problem in problems:
        print(f"admin_routes: {problem}", file=sys.stderr)
    sys.stdout.write(text)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
