"""Receiving a fetch-after-notify delivery (Keap): the platform posts to a hook URL that carries
the connection's secret token (`/webhooks/{platform}/{connection}/{token}`), signs nothing, and
names changed objects by id only.

1. The token is the authentication: compared in constant time with the connection's webhook
   secrets, never logged, and the request is not traced (lb_common/tracing.py UNTRACED_URLS:
   a span's URL attributes would carry it to the exporter). A wrong one stores nothing (401).
2. A handshake (X-Hook-Secret) is answered 200 echoing the header, and stores nothing.
3. A delivery is stored raw (deliveries, outcome `notified`) with one `notified_objects` row per
   object, in one short transaction, and answered: nothing waits on the platform's API. Rows are
   unique per (event key, id, timestamp), so a repeated delivery adds nothing (outcome
   `duplicate`). The fetcher (notified_fetch.py) reads each object afterwards.
4. A body that cannot be read is stored all the same (outcome `unusable`, the reason with it)
   and answered 200: a 4xx would count as a failed delivery, and four of those make Keap
   deactivate the whole subscription, which would lose every later order, not just this one.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite

from lb_common.db import Database, utcnow
from lb_connectors.platforms.base import Notification, PayloadError, notifying
from lb_connectors.platforms.keap import DELETE_EVENTS
from lb_connectors.platforms.registry import get_adapter
from lb_ingest.arrival import WebhookAnswer, error_answer
from lb_ingest.connections import ConnectionCache
from lb_ingest.store import Delivery, NotifiedObject

log = logging.getLogger(__name__)

NOTIFIED_WAITING = "notified_waiting"  # commit flag: wakes this process's fetcher

_deliveries = Delivery.__table__  # type: ignore[attr-defined]
_objects = NotifiedObject.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class HookAnswer:
    answer: WebhookAnswer
    headers: dict[str, str] = field(default_factory=dict)


async def receive_notification(
    shop_connections: ConnectionCache,
    db: Database,
    *,
    platform: str,
    connection_name: str,
    token: str,
    headers: Mapping[str, str],
    body: bytes,
) -> HookAnswer:
    try:
        adapter = notifying(get_adapter(platform))
    except LookupError:
        return HookAnswer(error_answer(404, f"unknown platform {platform!r}"))
    if adapter is None:
        return HookAnswer(
            error_answer(
                404,
                f"{platform} webhooks are signed: post them to /webhooks/{platform}/{{connection}}",
            )
        )
    shop_connection = await shop_connections.get(connection_name)
    if shop_connection is None or shop_connection.platform != platform:
        return HookAnswer(error_answer(404, f"no {platform} connection named {connection_name!r}"))
    if not adapter.verify_hook_token(token, shop_connection.secrets):
        # The log names the connection only: the presented token may be a near-miss of a secret.
        log.warning(
            "hook URL token did not match",
            extra={"data": {"connection": connection_name, "platform": platform}},
        )
        return HookAnswer(error_answer(401, "this hook URL is not recognised"))
    if not shop_connection.enabled:
        return HookAnswer(error_answer(403, f"connection {connection_name!r} is disabled"))

    secret = adapter.handshake_secret(headers)
    if secret is not None:
        log.info(
            "hook handshake answered",
            extra={"data": {"connection": connection_name, "platform": platform}},
        )
        return HookAnswer(WebhookAnswer(200, {"status": "handshake"}), {"X-Hook-Secret": secret})

    try:
        notification: Notification | None = adapter.parse_notification(body)
        problem = None
    except PayloadError as exc:
        notification, problem = None, str(exc)
    fetched = notification is not None and adapter.fetches(notification.event_key)
    if (
        fetched
        and notification is not None
        and notification.event_key in DELETE_EVENTS
        and not shop_connection.settings.keap_deletions
    ):
        fetched = False  # deletions are off for this connection: kept, not acted on
    try:
        answer = await _store(db, platform, connection_name, body, notification, problem, fetched)
    except Exception:
        # Not stored, so not acknowledged: Keap sends it again (up to 4 times).
        log.exception("could not store a hook delivery", extra={"data": {"platform": platform}})
        return HookAnswer(error_answer(503, "the delivery could not be stored; send it again"))
    return HookAnswer(answer)


async def _store(
    db: Database,
    platform: str,
    connection: str,
    body: bytes,
    notification: Notification | None,
    problem: str | None,
    fetched: bool,
) -> WebhookAnswer:
    delivery_id = f"notice-{uuid.uuid4()}"
    now = utcnow()
    async with db.write_connection() as conn:
        fresh = 0
        if notification is not None and fetched:
            rows = [
                {
                    "connection": connection,
                    "event_key": notification.event_key,
                    "object_id": o.id,
                    "stamp": o.timestamp,
                    "delivery_id": delivery_id,
                    "status": "waiting",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "received_at": now,
                }
                # One delivery may name an object twice: once is enough.
                for o in dict.fromkeys(notification.objects)
            ]
            dialect = sqlite if db.is_sqlite else postgresql
            statement = (
                dialect.insert(_objects)
                .values(rows)
                .on_conflict_do_nothing(
                    index_elements=["connection", "event_key", "object_id", "stamp"]
                )
                .returning(_objects.c.id)
            )
            fresh = len((await conn.execute(statement)).all())
            if fresh:
                conn.sync_connection.info[NOTIFIED_WAITING] = True  # type: ignore[union-attr]
        if notification is None:
            outcome, error = "unusable", problem
        elif not fetched:
            outcome, error = "stored", f"event {notification.event_key} is stored, not acted on"
        elif fresh:
            outcome, error = "notified", None
        else:
            outcome, error = "duplicate", None
        await conn.execute(
            insert(_deliveries).values(
                connection=connection,
                platform=platform,
                topic=notification.event_key if notification else "(unreadable)",
                delivery_id=delivery_id,
                body=body,
                outcome=outcome,
                error=error,
                received_at=now,
            )
        )
    if notification is None:
        return WebhookAnswer(200, {"status": "unusable", "error": problem})
    count = len(notification.objects)
    return WebhookAnswer(200, {"status": outcome, "objects": count, "new": fresh})
