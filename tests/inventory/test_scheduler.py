"""The background job's choice of connections whose full sync is due (real SQLite)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from lb_common.db import Database, utcnow
from lb_inventory.scheduler import due_connections
from lb_inventory.store import TABLES, StockConnectionSettings, SyncRun


async def test_a_connection_is_due_when_on_and_its_interval_has_passed(sqlite_url):
    db = Database(sqlite_url("inventory"))
    await db.create_tables(TABLES)
    try:
        async with db.transaction() as session:
            for name, enabled in (("on", True), ("off", False)):
                settings = {
                    "enabled": enabled,
                    "location_id": "1",
                    "full_sync_interval_minutes": 15,
                }
                session.add(StockConnectionSettings(connection=name, settings=settings))
        assert await due_connections(db) == ["on"]  # never synced

        async with db.transaction() as session:
            session.add(SyncRun(connection="on", trigger="schedule", started_at=utcnow()))
        assert await due_connections(db) == []

        async with db.transaction() as session:
            session.add(
                SyncRun(
                    connection="on",
                    trigger="admin",
                    started_at=utcnow() - timedelta(minutes=30),
                )
            )
        assert await due_connections(db) == []  # the newest run counts

        async with db.transaction() as session:
            for run in (await session.exec(select(SyncRun))).all():
                run.started_at = utcnow() - timedelta(minutes=16)
                session.add(run)
        assert await due_connections(db) == ["on"]
    finally:
        await db.dispose()
