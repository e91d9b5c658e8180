"""A migrated scratch database of one service, on SQLite or on PostgreSQL (created for the test
and dropped after it; skipped when no PostgreSQL answers on 127.0.0.1:5432)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from sqlmodel import SQLModel

from lb_common.db import Database
from lb_common.migrations import migrate
from tests.common.test_migrations import PG_HOST, _admin_connection

KINDS = ["sqlite", "postgresql"]


@contextlib.asynccontextmanager
async def scratch_database(
    kind: str, tmp_path: Path, migrations: Path, tables: Sequence[type[SQLModel]]
) -> AsyncIterator[Database]:
    if kind == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path}/scratch.db")
        try:
            await migrate(database, migrations, tables)
            yield database
        finally:
            await database.dispose()
        return
    admin = await _admin_connection()
    name = f"lb_scratch_{uuid.uuid4().hex[:12]}"
    user = admin.get_settings().session_authorization
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        database = Database(f"postgresql+asyncpg://{user}@{PG_HOST}/{name}")
        try:
            await migrate(database, migrations, tables)
            yield database
        finally:
            await database.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
