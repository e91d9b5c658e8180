"""The REST hooks a Keap connection needs, made, checked and re-verified through Keap's API:
when the connection is saved, at ingest's start and every
`LEDGERBRIDGE_INGEST_KEAP_HOOKS_CHECK_SECONDS` (one replica at a time, so each connection is
checked once per round across replicas), and on POST /connections/{name}/webhook-subscriptions/check.

Each order event the tenant offers (GET /v1/hooks/event_keys: order.add, and order.edit where it
exists; with the connection's `keap_deletions` on, also order.delete and invoice.delete) needs
one hook to `<public_url>/webhooks/keap/<connection>/<token>`, the token being the
connection's first webhook secret. Keap stops delivering to a hook after 4 failed deliveries (or
a 410) and marks it Inactive without telling anyone, so an Inactive or Unverified hook is
verified again (POST /v1/hooks/{key}/verify: the handshake); one of ours pointing to an older
token (after a rotation) is deleted. Orders changed while a hook was Inactive are found by
reconciliation (keap_reconcile.py).

The hook URL is a secret: what is recorded and logged names the event and the state, never it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any
from urllib.parse import quote

from sqlmodel import col, select

from lb_common.db import Database
from lb_common.errors import LedgerbridgeError
from lb_common.work_loop import every
from lb_connectors.keap import KeapDirectory, KeapHook
from lb_connectors.platforms.keap import DELETE_EVENTS, ORDER_EVENTS
from lb_ingest.connection_onboarding import keep_subscription_check
from lb_ingest.connections import ActiveConnection, ConnectionCache
from lb_ingest.store import ShopConnection

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 60.0


def hook_prefix(public_url: str, name: str) -> str:
    return f"{public_url.rstrip('/')}/webhooks/keap/{quote(name, safe='')}/"


def hook_url(public_url: str, name: str, token: str) -> str:
    return hook_prefix(public_url, name) + quote(token, safe="")


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


async def check(
    db: Database,
    shop_connections: ConnectionCache,
    keap: KeapDirectory,
    public_url: str | None,
    name: str,
) -> dict[str, Any]:
    """Check one Keap connection's hooks and repair them; the result is stored and returned."""
    report: list[dict[str, Any]] = []
    error: str | None = None
    connection = await shop_connections.get(name)
    if connection is None or connection.platform != "keap":
        error = f"no Keap connection named {name!r}"
    elif not connection.secrets:
        error = "the connection has no webhook secret to make its hook URL from"
    elif not public_url:
        error = (
            "LEDGERBRIDGE_INGEST_PUBLIC_URL is not set, so ledgerbridge cannot tell Keap where "
            "to send its hooks: set it (Keap must reach it over HTTPS)"
        )
    else:
        url = hook_url(public_url, name, connection.secrets[0])
        try:
            report = await asyncio.wait_for(
                _repair(keap, name, url, hook_prefix(public_url, name), events_of(connection)),
                CHECK_TIMEOUT,
            )
        except LedgerbridgeError as exc:
            error = f"Keap's hooks could not be checked: {exc.reason}"
        except TimeoutError:
            error = "Keap's hooks could not be checked in time"
    await keep_subscription_check(db, name, report, error)
    changed = [r for r in report if r["state"] != "ok"]
    if changed or error:
        log.warning(
            "Keap hooks not all in order"
            if error or any(r["state"] == "failed" for r in report)
            else "Keap hooks repaired",
            extra={"data": {"connection": name, "changes": changed, "error": error}},
        )
    return {"subscriptions": report, "error": error}


def events_of(connection: ActiveConnection) -> list[str]:
    """The events the connection subscribes to: the order events, and the deletions when
    its settings ask for them (`keap_deletions`)."""
    events = list(ORDER_EVENTS)
    if connection.settings.keap_deletions:
        events += list(DELETE_EVENTS)
    return events


async def _repair(
    keap: KeapDirectory, name: str, url: str, prefix: str, events: list[str]
) -> list[dict[str, Any]]:
    client = keap.for_connection(name)
    offered = set(await client.event_keys())
    wanted = [key for key in events if key in offered]
    held = await client.hooks()
    ours = [h for h in held if _same(h.hook_url, url)]
    # Ours, but with a token no longer current (a rotation): Keap would post to a URL we refuse.
    stale = [h for h in held if h.hook_url.startswith(prefix) and not _same(h.hook_url, url)]
    for old in stale:
        await client.delete_hook(old.key)
    report: list[dict[str, Any]] = []
    # Deletions turned off (keap_deletions): our delete hooks go, so Keap stops sending them.
    for unwanted in [h for h in ours if h.event_key in DELETE_EVENTS and h.event_key not in events]:
        entry: dict[str, Any] = {"topic": unwanted.event_key}
        try:
            await client.delete_hook(unwanted.key)
            entry.update(state="removed", detail="the connection's keap_deletions is off")
        except LedgerbridgeError as exc:
            entry.update(state="failed", detail=f"Keap refused it: {exc.detail or exc.reason}")
        report.append(entry)
    for event_key in wanted:
        found = next((h for h in ours if h.event_key == event_key), None)
        entry = {"topic": event_key}
        try:
            if found is None:
                made = await client.create_hook(event_key, url)
                entry.update(state="created", detail=_status(made, "was missing"))
            elif found.status != "Verified":
                again = await client.verify_hook(found.key)
                entry.update(state="re-verified", detail=_status(again, f"was {found.status}"))
            else:
                entry.update(state="ok", detail=None)
        except LedgerbridgeError as exc:
            entry.update(state="failed", detail=f"Keap refused it: {exc.detail or exc.reason}")
        report.append(entry)
    return report


def _status(hook: KeapHook, before: str) -> str:
    if hook.status == "Verified":
        return f"{before}; now Verified"
    return f"{before}; still {hook.status}: the handshake did not come back (is the URL reachable?)"


async def check_all(
    db: Database, shop_connections: ConnectionCache, keap: KeapDirectory, public_url: str | None
) -> int:
    async with db.session() as session:
        names = (
            await session.exec(
                select(ShopConnection.name)
                .where(ShopConnection.platform == "keap")
                .where(col(ShopConnection.enabled).is_(True))
                .where(col(ShopConnection.deleted_at).is_(None))
                .order_by(col(ShopConnection.name))
            )
        ).all()
    for name in names:
        try:
            await check(db, shop_connections, keap, public_url, name)
        except Exception:  # one tenant's surprise must not leave the others unchecked
            log.exception("checking the Keap hooks of %s failed", name)
    return len(names)


async def run_periodically(
    db: Database,
    shop_connections: ConnectionCache,
    keap: KeapDirectory,
    public_url: str | None,
    interval: float,
    stop: asyncio.Event,
) -> None:
    async def job() -> None:
        await check_all(db, shop_connections, keap, public_url)

    await every(interval, stop, job, what="checking Keap hooks", at_start=True)
