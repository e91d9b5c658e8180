"""Migration 0009: the running totals of held units start as the sum of the open orders held
before it (released ones count nothing), and later holds and releases keep them (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from alembic import command
from sqlalchemy import text

import lb_inventory
from lb_common.db import Database
from lb_common.migrations import alembic_config, migrate, schema_differences
from lb_inventory.holds import held_per_sku, hold, release
from lb_inventory.store import TABLES
from tests.support.stores import Store

MIGRATIONS = Path(lb_inventory.__file__).parent / "migrations"


async def test_the_totals_start_from_the_open_orders(store: Store) -> None:
    db = Database(await store.url("inventory"))
    try:
        config = alembic_config(MIGRATIONS, TABLES)

        def upgrade_to_0008(conn: object) -> None:
            config.attributes["connection"] = conn
            try:
                command.upgrade(config, "0008")
            finally:
                del config.attributes["connection"]

        async with db.write_connection() as conn:
            await conn.run_sync(upgrade_to_0008)
        async with db.write_connection() as conn:
            for key, units, released in (
                ("o1", '{"MUG": "2", "HAT": "0.5"}', "NULL"),
                ("o2", '{"MUG": "1"}', "NULL"),
                ("o3", '{"MUG": "5"}', "CURRENT_TIMESTAMP"),
                ("o4", '{"HAT": "1"}', "NULL"),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO held_orders (connection, order_key, version, units, "
                        f"released_at, updated_at) VALUES ('c', '{key}', CURRENT_TIMESTAMP, "
                        f"'{units}', {released}, CURRENT_TIMESTAMP)"
                    )
                )

        await migrate(db, MIGRATIONS, TABLES)

        assert await schema_differences(db, TABLES) == []
        async with db.session() as session:
            assert await held_per_sku(session, "c") == {"MUG": 3, "HAT": Decimal("1.5")}
        async with db.transaction() as session:
            assert await release(session, "c", "o1", "booked")
            later = datetime(2100, 1, 1, tzinfo=UTC)
            assert await hold(session, "c", "o2", later, {"MUG": Decimal(4)})
        async with db.session() as session:
            assert await held_per_sku(session, "c") == {"MUG": 4, "HAT": 1}
    finally:
        await db.dispose()
