"""ingest's revision 0014 moves every consent into `ledger_consents` (one row per connection
and ledger kind) and keeps what was there: a QuickBooks consent (pending state, expiry, API
host, company) and an e-conomic grant (state, expiry, agreement address, when granted)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlmodel import select

import lb_ingest
from lb_common.db import Database, UTCDateTime
from lb_common.migrations import _with_connection, alembic_config, migrate, schema_differences
from lb_ingest.store import TABLES, LedgerConsent
from tests.support.stores import Store

MIGRATIONS = Path(lb_ingest.__file__).parent / "migrations"
EXPIRES = datetime(2026, 11, 28, 19, 30, tzinfo=UTC)
CONNECTED = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


async def _upgrade_to(db: Database, revision: str) -> None:
    config = alembic_config(MIGRATIONS, TABLES)
    async with db.write_connection() as conn:
        await conn.run_sync(_with_connection(config, lambda: command.upgrade(config, revision)))


async def test_the_consents_made_before_0014_are_kept(store: Store) -> None:
    db = Database(await store.url("ingest"))
    try:
        await _upgrade_to(db, "0013")
        quickbooks = sa.table(
            "quickbooks_consents",
            sa.column("connection"),
            sa.column("state_sha256"),
            sa.column("expires_at", UTCDateTime),
            sa.column("base_url"),
            sa.column("connected_at", UTCDateTime),
            sa.column("realm_id"),
        )
        onboarding = sa.table(
            "connection_onboarding",
            sa.column("connection"),
            sa.column("grant_state_sha256"),
            sa.column("grant_expires_at", UTCDateTime),
            sa.column("grant_base_url"),
            sa.column("granted_at", UTCDateTime),
            sa.column("subscriptions", sa.JSON),
        )
        async with db.write_connection() as conn:
            await conn.execute(
                quickbooks.insert(),
                [
                    {
                        "connection": "west",
                        "state_sha256": "a" * 64,
                        "expires_at": EXPIRES,
                        "base_url": "https://sandbox-quickbooks.api.intuit.com",
                        "connected_at": CONNECTED,
                        "realm_id": "4620816365",
                    }
                ],
            )
            await conn.execute(
                onboarding.insert(),
                [
                    {
                        "connection": "east",
                        "grant_state_sha256": None,
                        "grant_expires_at": None,
                        "grant_base_url": "https://restapi.e-conomic.com",
                        "granted_at": CONNECTED,
                        "subscriptions": [],
                    },
                    {  # never granted: no consent row
                        "connection": "north",
                        "grant_state_sha256": None,
                        "grant_expires_at": None,
                        "grant_base_url": None,
                        "granted_at": None,
                        "subscriptions": [{"topic": "ORDERS_PAID", "state": "ok"}],
                    },
                ],
            )

        await migrate(db, MIGRATIONS, TABLES)
        assert await schema_differences(db, TABLES) == []
        async with db.session() as session:
            rows = {
                (r.connection, r.kind): r for r in (await session.exec(select(LedgerConsent))).all()
            }
            kept = (
                await session.exec(  # type: ignore[call-overload]
                    sa.text("SELECT connection FROM connection_onboarding ORDER BY connection")
                )
            ).all()
    finally:
        await db.dispose()
    assert set(rows) == {("west", "quickbooks"), ("east", "economic")}
    west = rows["west", "quickbooks"]
    assert (west.state_sha256, west.expires_at, west.connected_at) == ("a" * 64, EXPIRES, CONNECTED)
    assert west.keep == {"base_url": "https://sandbox-quickbooks.api.intuit.com"}
    assert west.facts == {"realm_id": "4620816365"}
    east = rows["east", "economic"]
    assert (east.state_sha256, east.expires_at, east.connected_at) == (None, None, CONNECTED)
    assert east.keep == {"base_url": "https://restapi.e-conomic.com"} and east.facts == {}
    assert [r[0] for r in kept] == ["east", "north"]  # the onboarding rows themselves stay
