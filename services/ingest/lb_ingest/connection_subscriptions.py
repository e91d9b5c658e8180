"""The webhook subscriptions a Shopify connection needs, made and checked through the shop's
GraphQL Admin API: when the connection is saved, at ingest's start and every
`LEDGERBRIDGE_INGEST_WEBHOOK_SUBSCRIPTIONS_CHECK_SECONDS` (one replica at a time), and on
`POST /connections/{name}/webhook-subscriptions/check`.

Each needed topic must have one subscription to `<public_url>/webhooks/shopify/<connection>`
in JSON. A missing one is created; a wrong one (another address, e.g. after the deployment
moved, or XML) is deleted and created again. What was found and done is kept on the connection
(ConnectionOnboarding.subscriptions) and shown by `GET /connections/{name}` and the console.
Shopify lists only the subscriptions this app made through the API, so other apps' are never
touched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlmodel import col, select

from lb_common.db import Database
from lb_common.errors import LedgerbridgeError
from lb_common.work_loop import every
from lb_connectors.shops import ShopDirectory
from lb_ingest.connection_onboarding import keep_subscription_check
from lb_ingest.store import ShopConnection

log = logging.getLogger(__name__)

#: Shopify topics ingest takes (lb_connectors/platforms/shopify.py TOPICS): orders/updated
#: carries fulfilment and edits, so those need no subscription of their own.
SHOPIFY_TOPICS = (
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "ORDERS_PAID",
    "ORDERS_CANCELLED",
    "REFUNDS_CREATE",
)
FORMAT = "JSON"
#: How long one connection's check may take before it is recorded as failed.
CHECK_TIMEOUT = 30.0


@dataclass(frozen=True)
class Held:
    """A subscription the shop has."""

    id: str
    topic: str
    uri: str | None
    format: str | None


@dataclass(frozen=True)
class Plan:
    delete: tuple[Held, ...]
    create: tuple[str, ...]
    report: tuple[dict[str, Any], ...]  # per topic: topic, uri, state, detail


def plan(held: Sequence[Held], uri: str, topics: Sequence[str] = SHOPIFY_TOPICS) -> Plan:
    """What to delete and create so each topic has exactly one right subscription."""
    delete: list[Held] = []
    create: list[str] = []
    report: list[dict[str, Any]] = []
    for topic in topics:
        mine = [h for h in held if h.topic == topic]
        right = [h for h in mine if h.uri == uri and (h.format or FORMAT) == FORMAT]
        wrong = [h for h in mine if h not in right[:1]]
        delete.extend(wrong)
        if right:
            state, detail = "ok", None
        elif wrong:
            create.append(topic)
            state = "re-created"
            detail = "pointed to " + ", ".join(f"{h.uri} ({h.format or FORMAT})" for h in wrong)
        else:
            create.append(topic)
            state, detail = "created", "was missing"
        report.append({"topic": topic, "uri": uri, "state": state, "detail": detail})
    return Plan(tuple(delete), tuple(create), tuple(report))


def address(public_url: str, name: str) -> str:
    return f"{public_url.rstrip('/')}/webhooks/shopify/{quote(name, safe='')}"


async def check(
    db: Database, shops: ShopDirectory, public_url: str | None, name: str
) -> dict[str, Any]:
    """Check one connection's subscriptions and repair them; the result is stored and returned."""
    report: list[dict[str, Any]] = []
    error: str | None = None
    async with db.session() as session:
        shop_connection = await session.get(ShopConnection, name)
    if shop_connection is None or shop_connection.deleted_at is not None:
        error = f"no connection named {name!r}"
    elif shop_connection.platform != "shopify":
        error = f"a {shop_connection.platform} connection: its webhooks are set up in the shop"
    elif not public_url:
        error = (
            "LEDGERBRIDGE_INGEST_PUBLIC_URL is not set, so ledgerbridge cannot tell Shopify where "
            "to send webhooks: set it, or subscribe in the shop's app settings by hand"
        )
    else:
        try:
            report = await asyncio.wait_for(
                _repair(shops, address(public_url, name), name), CHECK_TIMEOUT
            )
        except LedgerbridgeError as exc:
            error = f"the shop's subscriptions could not be checked: {exc.reason}"
        except TimeoutError:
            error = "the shop's subscriptions could not be checked in time"
    await keep_subscription_check(db, name, report, error)
    repaired = [r for r in report if r["state"] != "ok"]
    if repaired or error:
        failed = error or any(r["state"] == "failed" for r in report)
        log.warning(
            "webhook subscriptions not all in order"
            if failed
            else "webhook subscriptions repaired",
            extra={"data": {"connection": name, "changes": repaired, "error": error}},
        )
    return {"subscriptions": report, "error": error}


async def _repair(shops: ShopDirectory, uri: str, name: str) -> list[dict[str, Any]]:
    client = shops.for_connection(name)
    held = [Held(s.id, s.topic, s.uri, s.format) for s in await client.webhook_subscriptions()]
    todo = plan(held, uri)
    for h in todo.delete:
        await client.delete_webhook_subscription(h.id)
    report = [dict(r) for r in todo.report]
    for topic in todo.create:
        entry = next(r for r in report if r["topic"] == topic)
        try:
            await client.create_webhook_subscription(topic, uri, format=FORMAT)
        except LedgerbridgeError as exc:
            entry["state"] = "failed"
            entry["detail"] = f"Shopify refused it: {exc.detail or exc.reason}"
    return report


async def check_all(db: Database, shops: ShopDirectory, public_url: str | None) -> int:
    async with db.session() as session:
        names = (
            await session.exec(
                select(ShopConnection.name)
                .where(ShopConnection.platform == "shopify")
                .where(col(ShopConnection.enabled).is_(True))
                .where(col(ShopConnection.deleted_at).is_(None))
                .order_by(col(ShopConnection.name))
            )
        ).all()
    for name in names:
        await check(db, shops, public_url, name)
    return len(names)


async def run_periodically(
    db: Database,
    shops: ShopDirectory,
    public_url: str | None,
    interval: float,
    stop: asyncio.Event,
) -> None:
    async def job() -> None:
        await check_all(db, shops, public_url)

    await every(interval, stop, job, what="checking webhook subscriptions", at_start=True)
