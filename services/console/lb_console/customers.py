"""Customers: which ledger customer each buyer is invoiced to, one ledger customer with its
buyers and purchase history, the duplicate groups found in the imported ledger customers with
their evidence, and merging a group (a confirmation page first: a merge is not undone here)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from lb_console import audit
from lb_console.backend import Answer, Services
from lb_console.sessions import Session
from lb_console.web import Paging, Posted, console, current, posted, redirect, render

CUSTOMER_NUMBER = Path(ge=1, le=999_999_999)


def customer_url(connection: str, number: int | str) -> str:
    return f"/customers/{quote(connection, safe='')}/{number}"


async def _connections(services: Services) -> list[str]:
    listed = await services.get("ingest", "/connections")
    return [c["name"] for c in listed.body] if listed.ok else []


async def _debtors(services: Services, connection: str, numbers: list[int]) -> dict[int, Any]:
    """The imported ledger customers by number (those never imported are missing)."""
    if not numbers:
        return {}
    answer = await services.call(
        "customers",
        "GET",
        f"/connections/{quote(connection, safe='')}/debtors",
        params={"customer_number": sorted(set(numbers)), "limit": 1000},
    )
    return {d["customer_number"]: d for d in answer.body["debtors"]} if answer.ok else {}


def _body(answer: Answer, empty: Any) -> Any:
    return answer.body if answer.ok else empty


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/customers", response_class=HTMLResponse)
    async def links(
        request: Request,
        connection: str = "",
        q: str = "",
        offset: int = Query(0, ge=0),
        limit: int = Query(50, ge=1, le=500),
        session: Session = Depends(current),
    ) -> HTMLResponse:
        services = console(request).services
        connections = await _connections(services)
        connection = connection or (connections[0] if connections else "demo")
        answer = await services.get(
            "customers", "/links", connection=connection, q=q.strip(), limit=limit, offset=offset
        )
        rows = _body(answer, [])
        names = await _debtors(services, connection, [row["customer_number"] for row in rows])
        return render(
            request,
            "customers.html",
            connections=connections,
            chosen={"connection": connection, "q": q},
            links=rows,
            names=names,
            error=None if answer.ok else answer.error(),
            paging=Paging(request, limit, offset, None, len(rows)),
            customer_url=customer_url,
        )

    @r.get("/customers/duplicates", response_class=HTMLResponse)
    async def duplicates(
        request: Request,
        connection: str = "",
        offset: int = Query(0, ge=0),
        limit: int = Query(50, ge=1, le=500),
        session: Session = Depends(current),
    ) -> HTMLResponse:
        services = console(request).services
        connections = await _connections(services)
        connection = connection or (connections[0] if connections else "demo")
        answer = await services.get(
            "customers",
            f"/connections/{quote(connection, safe='')}/duplicates",
            limit=limit,
            offset=offset,
        )
        found = _body(answer, {"total": 0, "groups": []})
        numbers = [n for g in found["groups"] for n in g["customer_numbers"]]
        return render(
            request,
            "duplicates.html",
            connections=connections,
            chosen={"connection": connection},
            groups=found["groups"],
            names=await _debtors(services, connection, numbers),
            error=None if answer.ok else answer.error(),
            paging=Paging(request, limit, offset, found["total"], len(found["groups"])),
            customer_url=customer_url,
        )

    @r.get("/customers/duplicates/{group_id}/merge", response_class=HTMLResponse)
    async def confirm_merge(
        request: Request,
        group_id: str,
        connection: str,
        survivor: int = Query(ge=1, le=999_999_999),
        session: Session = Depends(current),
    ) -> HTMLResponse:
        """What the merge will do, before it is done: the confirmation page."""
        services = console(request).services
        answer = await services.get(
            "customers", f"/connections/{quote(connection, safe='')}/duplicates", limit=1000
        )
        groups = _body(answer, {"groups": []})["groups"]
        group = next((g for g in groups if g["id"] == group_id), None)
        error = None if answer.ok else answer.error()
        if group is None and error is None:
            error = f"No duplicate group {group_id} on {connection} (import the customers again?)."
        elif group is not None and survivor not in group["customer_numbers"]:
            error = f"Customer {survivor} is not in duplicate group {group_id}."
        numbers = group["customer_numbers"] if group else []
        buyers = await asyncio.gather(
            *(
                services.get("customers", "/links", connection=connection, customer_number=n)
                for n in numbers
                if n != survivor
            )
        )
        return render(
            request,
            "merge_confirm.html",
            status_code=200 if error is None else 404,
            connection=connection,
            group=group,
            survivor=survivor,
            merged=[n for n in numbers if n != survivor],
            buyers_moving=sum(len(_body(b, [])) for b in buyers),
            names=await _debtors(services, connection, list(numbers)),
            error=error,
            customer_url=customer_url,
        )

    @r.post("/customers/duplicates/{group_id}/merge")
    async def merge(request: Request, group_id: str, form: Posted = Depends(posted)) -> Response:
        c = console(request)
        connection, survivor = form.get("connection"), form.get("survivor")
        back = f"/customers/duplicates?{urlencode({'connection': connection})}"
        if form.get("confirmed") != "yes" or not survivor.isdigit():
            return redirect(back, "Nothing merged: the merge was not confirmed.")
        answer = await c.services.call(
            "customers",
            "POST",
            f"/connections/{quote(connection, safe='')}/duplicates/{quote(group_id, safe='')}/merge",
            json={"survivor": int(survivor)},
        )
        outcome = answer.body["message"] if answer.ok else f"refused: {answer.error()}"
        await audit.record(
            c.db,
            form.operator,
            "customers.merge",
            f"{connection} group {group_id} into {survivor}",
            reason=form.get("reason"),
            outcome=outcome,
        )
        return redirect(back, f"Merged. {outcome}" if answer.ok else f"Not merged: {outcome}")

    @r.post("/customers/import")
    async def import_debtors(request: Request, form: Posted = Depends(posted)) -> Response:
        c = console(request)
        connection = form.get("connection") or "demo"
        answer = await c.services.call(
            "customers", "POST", f"/connections/{quote(connection, safe='')}/import-debtors"
        )
        if answer.ok:
            body = answer.body
            outcome = (
                f"{body.get('seen', 0)} customers read from the ledger ({body.get('imported', 0)} new, "
                f"{body.get('updated', 0)} changed). {body.get('note', '')}"
            )
        else:
            outcome = f"not imported: {answer.error()}"
        await audit.record(c.db, form.operator, "customers.import", connection, outcome=outcome)
        return redirect(
            f"/customers/duplicates?{urlencode({'connection': connection})}", outcome.strip()
        )

    @r.get("/customers/{connection}/{number}", response_class=HTMLResponse)
    async def customer(
        request: Request,
        connection: str,
        number: int = CUSTOMER_NUMBER,
        offset: int = Query(0, ge=0),
        limit: int = Query(50, ge=1, le=500),
        session: Session = Depends(current),
    ) -> HTMLResponse:
        """One ledger customer: its details as imported, the buyers invoiced to it, merges,
        and its purchase history (invoices and credit notes)."""
        services = console(request).services
        buyers, invoices, credit_notes, merges, names = await asyncio.gather(
            services.get(
                "customers", "/links", connection=connection, customer_number=number, limit=1000
            ),
            services.get(
                "invoicing",
                "/invoices",
                connection=connection,
                customer_number=number,
                limit=limit,
                offset=offset,
            ),
            services.get("invoicing", "/credit-notes", customer_number=number, limit=200),
            services.get(
                "customers", f"/connections/{quote(connection, safe='')}/merges", limit=10_000
            ),
            _debtors(services, connection, [number]),
        )
        merged = _body(merges, {"merges": []})["merges"]
        listed = _body(invoices, [])
        return render(
            request,
            "customer.html",
            connection=connection,
            number=number,
            debtor=names.get(number),
            buyers=_body(buyers, []),
            invoices=listed,
            credit_notes=[
                n for n in _body(credit_notes, []) if n.get("connection") in (None, connection)
            ],
            merged_into=next((m["survivor"] for m in merged if m["merged"] == number), None),
            merged_here=[m["merged"] for m in merged if m["survivor"] == number],
            error=next((a.error() for a in (buyers, invoices) if not a.ok), None),
            paging=Paging(request, limit, offset, None, len(listed)),
            customer_url=customer_url,
        )

    return r
