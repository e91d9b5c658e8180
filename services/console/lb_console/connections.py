"""Connections: each one's settings in every service, as forms with the services' own
validation errors inline; webhook secrets write-only."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from lb_console import audit, settings_form
from lb_console.backend import ServiceUnavailable
from lb_console.sessions import Session
from lb_console.web import Posted, console, current, posted, redirect, render

SETTINGS_SERVICES = ("customers", "invoicing", "inventory")
TITLES = {
    "ingest": "Shop (ingest): platform, webhooks, transfer trigger",
    "customers": "Customers: matching and creating customers",
    "invoicing": "Invoicing: lines, products, booking",
    "inventory": "Stock sync",
}


async def _connection(request: Request, name: str) -> dict[str, Any] | None:
    """The connection with its onboarding (grant, proposed settings, webhook subscriptions)."""
    answer = await console(request).services.get("ingest", f"/connections/{quote(name, safe='')}")
    return answer.body if answer.ok else None


def _options(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(i["number"]), f"{i['number']} · {i['name']}") for i in items]


def ledger_choices(reference: dict[str, Any]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """Which settings pick from which of the agreement's lists, per service (field names as
    settings_form.flat names them)."""
    groups, terms = _options(reference["customer_groups"]), _options(reference["payment_terms"])
    zones, layouts = _options(reference["vat_zones"]), _options(reference["layouts"])
    products = _options(reference["products"])
    return {
        "customers": {
            "defaults.customer_group": groups,
            "defaults.payment_terms": terms,
            "defaults.layout": layouts,
            "defaults.vat_zone": zones,
            **{
                f"vat_zones.{k}": zones for k in ("domestic", "eu_business", "eu_private", "abroad")
            },
        },
        "invoicing": {
            "layout": layouts,
            "payment_terms": terms,
            **{
                f"{k}_product": products
                for k in ("total", "gift_card", "fee", "discount", "default", "shipping", "refund")
            },
        },
    }


async def _reference(request: Request, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """The agreement's reference data from ingest, or why it could not be read."""
    try:
        answer = await console(request).services.get(
            "ingest", f"/connections/{quote(name, safe='')}/economic/reference", products="true"
        )
    except ServiceUnavailable as exc:
        return None, str(exc)
    return (answer.body, None) if answer.ok else (None, answer.error())


async def page(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    failed: str | None = None,
    submitted: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    summary: str | None = None,
    installation_url: str | None = None,
) -> Response:
    services = console(request).services
    shop = await _connection(request, name)
    (reference, reference_error), *answers = await asyncio.gather(
        _reference(request, name),
        *(
            services.get(s, f"/connections/{quote(name, safe='')}/settings")
            for s in SETTINGS_SERVICES
        ),
    )
    choices = ledger_choices(reference) if reference is not None else {}
    forms = []
    if shop is not None:
        forms.append(("ingest", shop["settings"]))
    forms.extend((s, a.body) for s, a in zip(SETTINGS_SERVICES, answers, strict=True) if a.ok)
    sections = []
    for service, values in forms:
        mine = service == failed
        fields = settings_form.fields(values, submitted if mine else None, choices.get(service))
        for field in fields:
            found = (errors or {}).get(field.name) or (errors or {}).get(field.name.split(".")[0])
            if mine and found:
                field.error = found
        sections.append(
            {
                "service": service,
                "title": TITLES[service],
                "fields": fields,
                "summary": summary if mine else None,
            }
        )
    return render(
        request,
        "connection.html",
        status_code=status_code,
        name=name,
        shop=shop,
        sections=sections,
        submitted=submitted if failed == "ingest" else None,
        onboarding=(shop or {}).get("onboarding"),
        installation_url=installation_url,
        reference=reference,
        reference_error=reference_error,
    )


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/connections", response_class=HTMLResponse)
    async def connections(request: Request, session: Session = Depends(current)) -> HTMLResponse:
        answer = await console(request).services.get("ingest", "/connections")
        return render(
            request,
            "connections.html",
            connections=answer.body if answer.ok else [],
            error=None if answer.ok else answer.error(),
        )

    @r.get("/connections/{name}", response_class=HTMLResponse)
    async def connection(
        request: Request, name: str, session: Session = Depends(current)
    ) -> Response:
        return await page(request, name)

    @r.post("/connections/{name}/{service}")
    async def save(
        request: Request, name: str, service: str, form: Posted = Depends(posted)
    ) -> Response:
        c = console(request)
        if service == "ingest":
            shop = await _connection(request, name)
            current: dict[str, Any] = shop["settings"] if shop else {}
        elif service in SETTINGS_SERVICES:
            got = await c.services.get(service, f"/connections/{quote(name, safe='')}/settings")
            current = got.body if got.ok else {}
        else:
            return redirect(f"/connections/{quote(name, safe='')}", f"No service {service}.")
        values, errors = settings_form.parse(current, form.form)
        submitted = dict(form.form)
        if errors:
            return await page(
                request,
                name,
                status_code=422,
                failed=service,
                submitted=submitted,
                errors=errors,
                summary="Nothing was saved: correct the fields marked below.",
            )
        if service == "ingest":
            body: dict[str, Any] = {
                "platform": form.get("platform") or (shop or {}).get("platform", "shopify"),
                "enabled": form.get("enabled") == "on",
                "settings": values,
            }
            secrets = [s for s in (form.get("new_secret"), form.get("old_secret")) if s]
            if secrets:
                body["secrets"] = secrets
            answer = await c.services.call(
                "ingest", "PUT", f"/connections/{quote(name, safe='')}", json=body
            )
        else:
            answer = await c.services.call(
                service, "PUT", f"/connections/{quote(name, safe='')}/settings", json=values
            )
        changed = sorted(
            k for k in values if values.get(k) != current.get(k) and not settings_form.is_secret(k)
        )
        if service == "ingest" and form.get("new_secret"):
            changed.append("webhook secrets")
        if not answer.ok:
            detail = answer.error()
            inline = settings_form.field_errors(detail)
            await audit.record(
                c.db, form.operator, f"settings.{service}", name, outcome=f"refused: {detail}"[:500]
            )
            return await page(
                request,
                name,
                status_code=422,
                failed=service,
                submitted=submitted,
                errors=inline,
                summary="Nothing was saved: "
                + ("correct the fields marked below." if inline else detail),
            )
        await audit.record(
            c.db,
            form.operator,
            f"settings.{service}",
            name,
            outcome="changed: " + (", ".join(changed) or "nothing"),
        )
        return redirect(
            f"/connections/{quote(name, safe='')}",
            f"{TITLES[service].split(':')[0]} settings saved.",
        )

    return r
