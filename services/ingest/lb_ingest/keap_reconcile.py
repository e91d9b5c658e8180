"""Reconciliation for Keap: hooks are lost while a subscription is Inactive (Keap deactivates it
silently after 4 failed deliveries), so ask Keap for the orders changed since the last run
(GET /v1/orders?since=, paged) and name the ones we miss, or hold an older version of, to the
fetcher (event key `reconcile.order`, timestamp = the order's modification_date). The fetcher
reads each with its contact and feeds it like a hook's: one path for both, deduplicated on
(event key, id, timestamp). The watermark moves only after a run completed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite

from lb_common.db import Database, utcnow
from lb_common.orders import make_order_key
from lb_connectors.keap import KeapDirectory
from lb_connectors.platforms.keap import RECONCILE_EVENT
from lb_ingest.connections import ActiveConnection
from lb_ingest.notified import NOTIFIED_WAITING
from lb_ingest.notified_fetch import shop_of
from lb_ingest.order_repository import with_orders
from lb_ingest.store import NotifiedObject, ReconciliationMark

_objects = NotifiedObject.__table__  # type: ignore[attr-defined]


async def name_changed_orders(
    db: Database, keap: KeapDirectory, connection: ActiveConnection, since: datetime
) -> tuple[int, int, int]:
    """(seen, named for fetching, already held at that version) since `since`."""
    started = utcnow()
    client = keap.for_connection(connection.name)
    shop = shop_of(connection)
    changed: dict[str, tuple[str, datetime]] = {}
    async for order in client.orders_since(since):
        stamp = str(order.get("modification_date") or order.get("creation_date") or "")
        try:
            version = datetime.fromisoformat(stamp)
        except ValueError:
            version = started  # unreadable: fetch it, the fetcher reports what is wrong
        changed[str(order["id"])] = (stamp or started.isoformat(), version)
    keys = {make_order_key("keap", shop, i): i for i in changed}
    async with db.session() as session:
        known = await with_orders(session, lambda orders: orders.versions(list(keys)))
    wanted = [i for key, i in keys.items() if known.get(key) is None or changed[i][1] > known[key]]
    named = 0
    if wanted:
        rows = [
            {
                "connection": connection.name,
                "event_key": RECONCILE_EVENT,
                "object_id": i,
                "stamp": changed[i][0],
                "status": "waiting",
                "attempts": 0,
                "next_attempt_at": started,
                "received_at": started,
            }
            for i in wanted
        ]
        dialect = sqlite if db.is_sqlite else postgresql
        async with db.write_connection() as conn:
            result = await conn.execute(
                dialect.insert(_objects)
                .values(rows)
                .on_conflict_do_nothing(
                    index_elements=["connection", "event_key", "object_id", "stamp"]
                )
                .returning(_objects.c.id)
            )
            named = len(result.all())
            conn.sync_connection.info[NOTIFIED_WAITING] = True  # type: ignore[union-attr]
    async with db.transaction() as session:
        await session.merge(ReconciliationMark(connection=connection.name, last_run_at=started))
    return len(changed), named, len(changed) - len(wanted)
