"""Fetching what a fetch-after-notify platform (Keap) named: each waiting `notified_objects` row
becomes the order read from Keap's API (GET /v1/orders/{id}), with its contact (GET
/v1/contacts/{id}: the billing address lives there) and the account's currency (GET
/v1/account/profile, read once an hour per connection), fed through the same writer as a
Shopify webhook: the delivery is stored, the order versioned, and `order.ready` follows as for
any order, so customers and invoicing see no difference.

- Within quota: every call goes through the credential's pacer (lb_connectors/keap/pacing.py);
  the job runs on one replica at a time (a lease), so the replicas do not compete for it.
- Once per change: the row is unique per (event key, id, timestamp), and the fetched delivery's
  id is `fetch:<event key>:<id>:<timestamp>`, so a crash after storing it and before marking
  the row fetched makes the writer answer `duplicate` the second time, not a second version.
- Nothing lost: a failed fetch keeps the row waiting, with the reason and a growing delay (or
  the 429's wait); an order Keap no longer has is marked `gone`, and an id Keap refuses as
  such (a 4xx other than auth and quota) `unreadable`, each with the reason.
- Deletions (order.delete, invoice.delete): the hook is believed only when Keap answers 404
  for the order; then the last body taken in, marked deleted, is fed as the order's last
  version (_keap_order.py). One Keap still has is read as it is now.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from lb_common.db import Database, utcnow
from lb_common.errors import LedgerbridgeError, TransientError
from lb_common.orders import make_order_key
from lb_common.work_loop import WorkLoop
from lb_connectors.keap import KeapClient, KeapDirectory, KeapRejected
from lb_connectors.platforms.base import DeliveryInfo
from lb_connectors.platforms.keap import DELETE_EVENTS
from lb_connectors.platforms.registry import get_adapter
from lb_ingest.arrival import Arrival
from lb_ingest.connections import ActiveConnection, ConnectionCache
from lb_ingest.fast_path.writer import DeliveryWriter
from lb_ingest.notified import NOTIFIED_WAITING
from lb_ingest.reading import read_arrival
from lb_ingest.store import Delivery, NotifiedObject

log = logging.getLogger(__name__)

_objects = NotifiedObject.__table__  # type: ignore[attr-defined]
_deliveries = Delivery.__table__  # type: ignore[attr-defined]
CURRENCY_TTL = 3600.0
LONGEST_DELAY = timedelta(minutes=15)


def shop_of(connection: ActiveConnection) -> str:
    """The shop part of a Keap order key: settings.shop_domain (the Keap app name, e.g.
    ab123.infusionsoft.com) when set, else the connection's name."""
    return connection.settings.shop_domain or connection.name


def retry_delay(attempts: int, retry_after: float | None) -> timedelta:
    """5 s, 10 s, 20 s ... up to 15 minutes, or longer when Keap said how long to wait."""
    delay = timedelta(seconds=5 * 2 ** min(attempts - 1, 10))
    return max(min(delay, LONGEST_DELAY), timedelta(seconds=retry_after or 0))


class NotifiedFetcher:
    def __init__(
        self,
        db: Database,
        shop_connections: ConnectionCache,
        writer: DeliveryWriter,
        keap: KeapDirectory,
        *,
        batch: int = 20,
        poll_interval: float = 1.0,
    ) -> None:
        self._db = db
        self._shop_connections = shop_connections
        self._writer = writer
        self._keap = keap
        self._batch = batch
        self._currencies: dict[str, tuple[float, str]] = {}
        # Asked every poll (each second) while nothing is due: built once, read in plain Core.
        self._due = (
            select(_objects)
            .where(_objects.c.status == "waiting", _objects.c.next_attempt_at <= bindparam("now"))
            .order_by(_objects.c.id)
            .limit(batch)
        )
        self._loop = WorkLoop(
            db,
            flag=NOTIFIED_WAITING,
            work=self.fetch_due,
            poll_interval=poll_interval,
            what="fetching notified orders",
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self._loop.run(stop)

    async def fetch_due(self) -> int:
        """Fetch one batch of waiting objects that are due; returns how many were tried."""
        rows = await self._db.read_sync(self._read_due)
        for row in rows:
            await self._fetch(row)
        return len(rows)

    def _read_due(self, conn: Connection) -> list[dict[str, Any]]:
        return [row._asdict() for row in conn.execute(self._due, {"now": utcnow()})]

    async def _fetch(self, row: dict[str, Any]) -> None:
        connection = await self._shop_connections.get(row["connection"])
        if connection is None or not connection.enabled:
            await self._failed(row, f"connection {row['connection']!r} is missing or disabled")
            return
        try:
            client = self._keap.for_connection(connection.name)
            order = await client.order(row["object_id"])
            if order is None:
                if row["event_key"] in DELETE_EVENTS:
                    await self._deleted(row, connection)
                    return
                await self._mark(
                    row,
                    status="gone",
                    error=f"Keap has no order {row['object_id']} any more (deleted after it "
                    "was named); nothing was taken in",
                )
                return
            contact_id = (order.get("contact") or {}).get("id")
            contact = await client.contact(str(contact_id)) if contact_id else None
            currency = await self._currency(connection.name, client)
        except KeapRejected as exc:
            # Keap refuses the id itself (not the key, not the moment): asking again cannot help.
            await self._mark(row, status="unreadable", error=f"{exc.reason} {exc.detail or ''}")
            return
        except LedgerbridgeError as exc:
            retry_after = exc.retry_after if isinstance(exc, TransientError) else None
            await self._failed(row, exc.reason, retry_after)
            return
        except Exception as exc:  # a bug or a broken answer: this row waits, the others go on
            log.exception("fetching a notified object failed unexpectedly")
            await self._failed(row, f"unexpected error: {type(exc).__name__}")
            return
        await self._submit(
            row, connection, {"order": order, "contact": contact, "currency": currency}
        )

    async def _deleted(self, row: dict[str, Any], connection: ActiveConnection) -> None:
        """Keap confirms the deletion (404): the last body read, marked deleted at the hook's
        timestamp, goes through the writer like any version, so the order is cancelled (or,
        after amount-only refunds, credited to its total) once: the delivery id is per change."""
        key = make_order_key(connection.platform, shop_of(connection), row["object_id"])
        last = await self._last_body(key)
        if last is None:
            await self._mark(
                row,
                status="gone",
                error=f"Keap deleted order {row['object_id']}, of which ledgerbridge holds no "
                "copy (never taken in, or its deliveries were pruned): nothing to cancel here",
            )
            return
        body = json.loads(last)
        body["deleted"] = {"event_key": row["event_key"], "timestamp": row["stamp"]}
        await self._submit(row, connection, body)

    async def _last_body(self, order_key: str) -> bytes | None:
        """The newest body of the order that was taken in (what Keap last said about it)."""
        async with self._db.session() as session:
            conn = await session.connection()
            found = (
                await conn.execute(
                    select(_deliveries.c.body)
                    .where(_deliveries.c.order_key == order_key)
                    .where(_deliveries.c.outcome == "accepted")
                    .order_by(_deliveries.c.order_version.desc(), _deliveries.c.id.desc())
                    .limit(1)
                )
            ).first()
        return bytes(found.body) if found is not None else None

    async def _submit(
        self, row: dict[str, Any], connection: ActiveConnection, content: dict[str, Any]
    ) -> None:
        body = json.dumps(content, separators=(",", ":")).encode()
        info = DeliveryInfo(
            platform=connection.platform,
            topic=row["event_key"],
            delivery_id=f"fetch:{row['event_key']}:{row['object_id']}:{row['stamp']}",
            event_id=None,
            shop=shop_of(connection),
        )
        arrival = read_arrival(get_adapter(connection.platform), connection, info, body)
        assert isinstance(arrival, Arrival)  # only stock levels are refused, and this is an order
        answer = await self._writer.submit(arrival)
        if answer.status_code >= 500:
            await self._failed(row, str(answer.body.get("error", "could not be stored")))
            return
        order_key = arrival.order.order_key if arrival.order else arrival.order_key
        await self._mark(row, status="fetched", error=arrival.problem, order_key=order_key)

    async def _currency(self, connection: str, client: KeapClient) -> str:
        cached = self._currencies.get(connection)
        if cached is not None and time.monotonic() - cached[0] < CURRENCY_TTL:
            return cached[1]
        currency = await client.currency()
        self._currencies[connection] = (time.monotonic(), currency)
        return currency

    async def _failed(self, row: dict[str, Any], reason: str, retry_after: float | None = None):
        attempts = row["attempts"] + 1
        log.warning(
            "fetching a notified object failed; it stays waiting",
            extra={
                "data": {
                    "connection": row["connection"],
                    "event_key": row["event_key"],
                    "object_id": row["object_id"],
                    "attempts": attempts,
                    "reason": reason,
                }
            },
        )
        await self._mark(
            row,
            status="waiting",
            error=reason,
            attempts=attempts,
            next_attempt_at=utcnow() + retry_delay(attempts, retry_after),
        )

    async def _mark(self, row: dict[str, Any], **values: Any) -> None:
        if values.get("status") in ("fetched", "gone", "unreadable"):
            values["fetched_at"] = utcnow()
        async with self._db.write_connection() as conn:
            await conn.execute(update(_objects).where(_objects.c.id == row["id"]).values(**values))
