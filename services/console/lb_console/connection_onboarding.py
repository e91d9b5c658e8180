"""A connection's onboarding on its page: connect an e-conomic agreement (the grant flow),
apply the settings ingest proposed from the agreement, and check the shop's webhook
subscriptions. Each action is one call (or a few) to the services' admin APIs, audited."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from lb_console import audit
from lb_console.connections import page
from lb_console.web import Posted, console, posted, redirect


def merged(current: dict[str, Any], partial: dict[str, Any]) -> dict[str, Any]:
    """`current` settings with `partial` laid over them, nested mappings merged."""
    out = dict(current)
    for key, value in partial.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def router() -> APIRouter:
    r = APIRouter()

    def back(name: str, notice: str) -> Response:
        return redirect(f"/connections/{quote(name, safe='')}", notice)

    @r.post("/connections/{name}/onboarding/grant")
    async def grant(request: Request, name: str, form: Posted = Depends(posted)) -> Response:
        """Ask ingest for an installation URL and show it (it is for one use, so it is shown
        on this page only, never put in an address)."""
        c = console(request)
        body = {"locale": form.get("locale") or "en-US"}
        if form.get("base_url"):
            body["base_url"] = form.get("base_url")
        answer = await c.services.call(
            "ingest", "POST", f"/connections/{quote(name, safe='')}/economic/grant", json=body
        )
        await audit.record(
            c.db,
            form.operator,
            "connection.economic_grant",
            name,
            outcome="installation URL made" if answer.ok else f"refused: {answer.error()}"[:500],
        )
        if not answer.ok:
            return back(name, f"No installation URL: {answer.error()}")
        return await page(request, name, installation_url=answer.body["installation_url"])

    @r.post("/connections/{name}/onboarding/apply")
    async def apply(request: Request, name: str, form: Posted = Depends(posted)) -> Response:
        """Lay the proposed settings over each service's own, then mark them confirmed."""
        c = console(request)
        path = f"/connections/{quote(name, safe='')}"
        shown = await c.services.get("ingest", path)
        proposal = (shown.body.get("onboarding") or {}).get("proposal") if shown.ok else None
        if not proposal:
            return back(name, "There are no proposed settings to apply.")
        applied = []
        for service, partial in proposal["settings"].items():
            current = await c.services.get(service, f"{path}/settings")
            if not current.ok:
                return back(name, f"{service} did not answer: {current.error()}; nothing more done")
            put = await c.services.call(
                service, "PUT", f"{path}/settings", json=merged(current.body, partial)
            )
            if not put.ok:
                await audit.record(
                    c.db,
                    form.operator,
                    "connection.apply_proposal",
                    name,
                    outcome=f"{service} refused: {put.error()}"[:500],
                )
                return back(name, f"{service} refused the proposed settings: {put.error()}")
            applied.append(service)
        confirmed = await c.services.call("ingest", "POST", f"{path}/economic/proposal/confirm")
        await audit.record(
            c.db,
            form.operator,
            "connection.apply_proposal",
            name,
            outcome="applied to " + ", ".join(applied),
        )
        if not confirmed.ok:
            return back(name, f"Applied, but not marked confirmed: {confirmed.error()}")
        return back(name, "Proposed settings applied to " + ", ".join(applied) + ".")

    @r.post("/connections/{name}/onboarding/check")
    async def check(request: Request, name: str, form: Posted = Depends(posted)) -> Response:
        c = console(request)
        answer = await c.services.call(
            "ingest", "POST", f"/connections/{quote(name, safe='')}/webhook-subscriptions/check"
        )
        if not answer.ok:
            return back(name, f"Not checked: {answer.error()}")
        repaired = [s["topic"] for s in answer.body["subscriptions"] if s["state"] != "ok"]
        await audit.record(
            c.db,
            form.operator,
            "connection.check_webhooks",
            name,
            outcome=("repaired: " + ", ".join(repaired)) if repaired else "all in order",
        )
        if answer.body.get("error"):
            return back(name, f"Not checked: {answer.body['error']}")
        return back(
            name,
            "Webhook subscriptions re-created: " + ", ".join(repaired)
            if repaired
            else "Webhook subscriptions are all in order.",
        )

    return r
