"""Every service's Alembic history builds exactly the schema its models define, on SQLite and
PostgreSQL; upgrading again changes nothing; replicas migrating at once do not race.

This is also the check that models and migrations agree: a model change without a revision
(scripts/new_migration.py) fails here.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from lb_common.db import Database
from lb_common.migrations import (
    COMMON_TABLES,
    _with_connection,
    alembic_config,
    migrate,
    schema_differences,
)

PG_USERS = ("postgres", "root")
PG_HOST = "127.0.0.1:5432"


@dataclass(frozen=True)
class Service:
    name: str
    tables: Sequence[type[SQLModel]]
    migrations: Path

    @property
    def table_names(self) -> set[str]:
        return {m.__table__.name for m in (*COMMON_TABLES, *self.tables)}  # type: ignore[attr-defined]

    @property
    def head(self) -> str:
        heads = ScriptDirectory.from_config(
            alembic_config(self.migrations, self.tables)
        ).get_heads()
        assert len(heads) == 1, f"{self.name}: several heads {heads}, merge them"
        return heads[0]


def _service(name: str) -> Service:
    package = importlib.import_module(f"lb_{name}")
    store = importlib.import_module(f"lb_{name}.store")
    return Service(name, store.TABLES, Path(package.__file__ or "").parent / "migrations")


SERVICES = [_service(n) for n in ("ingest", "customers", "invoicing", "inventory")]
IDS = [s.name for s in SERVICES]


async def _tables_and_version(db: Database) -> tuple[set[str], list[str]]:
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    return names, [v for (v,) in versions]


async def _check_migrates_to_models(db: Database, service: Service) -> None:
    await migrate(db, service.migrations, service.tables)
    assert await schema_differences(db, service.tables) == []
    names, versions = await _tables_and_version(db)
    # Exactly its own tables: every model shares SQLModel.metadata.
    assert names == service.table_names | {"alembic_version"}
    assert versions == [service.head]

    # Upgrading again is a no-op: data and version stay.
    async with db.transaction() as session:
        await session.exec(  # type: ignore[call-overload]
            text(
                "INSERT INTO inbox (consumer, message_id, handled_at) "
                "VALUES ('test', 'm-1', CURRENT_TIMESTAMP)"
            )
        )
    await migrate(db, service.migrations, service.tables)
    assert await _tables_and_version(db) == (names, versions)
    async with db.session() as session:
        rows = (await session.exec(text("SELECT message_id FROM inbox"))).all()  # type: ignore[call-overload]
    assert [r[0] for r in rows] == ["m-1"]


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/service.db")
    yield db
    await db.dispose()


@pytest.mark.parametrize("service", SERVICES, ids=IDS)
async def test_sqlite_migrates_to_the_models(sqlite_db: Database, service: Service) -> None:
    await _check_migrates_to_models(sqlite_db, service)


@pytest.mark.parametrize("service", SERVICES, ids=IDS)
async def test_a_database_from_create_all_adopts_the_first_revision(
    sqlite_db: Database, service: Service
) -> None:
    # What start-up made before there were migrations: tables but no alembic_version.
    await sqlite_db.create_tables([*COMMON_TABLES, *service.tables])
    await _check_migrates_to_models(sqlite_db, service)


# --- PostgreSQL: a fresh database per test -------------------------------------------------


async def _admin_connection() -> asyncpg.Connection:
    errors = []
    for user in PG_USERS:
        try:
            return await asyncpg.connect(f"postgresql://{user}@{PG_HOST}/test", timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            errors.append(f"{user}: {exc!r}")
    pytest.skip(f"no PostgreSQL answering at {PG_HOST} (database test): {'; '.join(errors)}")


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    admin = await _admin_connection()
    name = f"lb_migrations_{uuid.uuid4().hex[:12]}"
    user = admin.get_settings().session_authorization
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://{user}@{PG_HOST}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[Database]:
    db = Database(pg_url)
    yield db
    await db.dispose()


@pytest.mark.parametrize("service", SERVICES, ids=IDS)
async def test_postgresql_migrates_to_the_models(pg_db: Database, service: Service) -> None:
    await _check_migrates_to_models(pg_db, service)


_MIGRATE_IN_A_PROCESS = """
import asyncio, sys
from pathlib import Path
from lb_common.db import Database
from lb_common.migrations import migrate
from lb_{name}.store import TABLES

async def main() -> None:
    db = Database(sys.argv[1])
    await db.ping()
    print("ready", flush=True)
    sys.stdin.readline()  # all start together
    try:
        await migrate(db, Path(sys.argv[2]), TABLES)
    finally:
        await db.dispose()

asyncio.run(main())
"""


@pytest.mark.parametrize("service", SERVICES[:1], ids=IDS[:1])
async def test_replicas_migrating_at_once_on_postgresql_all_succeed(
    pg_url: str, pg_db: Database, service: Service
) -> None:
    # Replicas are processes (alembic's context is process-global, in-process calls queue).
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _MIGRATE_IN_A_PROCESS.format(name=service.name),
            pg_url,
            str(service.migrations),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), timeout=60) == b"ready\n"
    await pg_db.ping()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
    await asyncio.gather(*(proc.stdin.drain() for proc in procs if proc.stdin is not None))
    await migrate(pg_db, service.migrations, service.tables)
    for proc in procs:
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, stderr.decode()[-3000:]
    assert await schema_differences(pg_db, service.tables) == []
    assert (await _tables_and_version(pg_db))[1] == [service.head]


async def test_a_model_the_migrations_lack_is_reported(sqlite_db: Database) -> None:
    service = SERVICES[0]
    await migrate(sqlite_db, service.migrations, service.tables)
    async with sqlite_db.write_connection() as conn:
        await conn.execute(text("DROP INDEX ix_outbox_published_at"))
    differences = await schema_differences(sqlite_db, service.tables)
    assert [(d[0], d[1].name) for d in differences] == [("add_index", "ix_outbox_published_at")]


# --- customers 0007: ledger customer ids become text, existing numbers their decimal text ----


async def _upgrade_to(db: Database, service: Service, revision: str) -> None:
    config = alembic_config(service.migrations, service.tables)
    async with db.write_connection() as conn:
        await conn.run_sync(_with_connection(config, lambda: command.upgrade(config, revision)))


async def _check_customer_numbers_become_text(db: Database) -> None:
    [customers] = [s for s in SERVICES if s.name == "customers"]
    await _upgrade_to(db, customers, "0006")
    async with db.transaction() as session:
        for statement in (
            "INSERT INTO customer_links (connection, match_key, customer_number, source, "
            "created_at, merged_from) VALUES ('demo', 'email:a@x.dk', 9012, 'matched', "
            "CURRENT_TIMESTAMP, 9011)",
            "INSERT INTO customer_merges (connection, merged_number, survivor_number, group_id, "
            "rule, merged_at) VALUES ('demo', 9011, 9012, 'g', 'email', CURRENT_TIMESTAMP)",
            "INSERT INTO debtor_index (connection, customer_number, name, barred, imported_at) "
            "VALUES ('demo', 9011, 'Anna', false, CURRENT_TIMESTAMP)",
        ):
            await session.exec(text(statement))  # type: ignore[call-overload]
    await _check_migrates_to_models(db, customers)
    async with db.session() as session:
        link = (
            await session.exec(  # type: ignore[call-overload]
                text("SELECT customer_number, merged_from FROM customer_links")
            )
        ).one()
        merge = (
            await session.exec(  # type: ignore[call-overload]
                text("SELECT merged_number, survivor_number FROM customer_merges")
            )
        ).one()
        debtor = (
            await session.exec(  # type: ignore[call-overload]
                text("SELECT customer_number, name FROM debtor_index")
            )
        ).one()
    assert tuple(link) == ("9012", "9011")
    assert tuple(merge) == ("9011", "9012")
    assert tuple(debtor) == ("9011", "Anna")


async def test_sqlite_customer_numbers_become_their_text(sqlite_db: Database) -> None:
    await _check_customer_numbers_become_text(sqlite_db)


async def test_postgresql_customer_numbers_become_their_text(pg_db: Database) -> None:
    await _check_customer_numbers_become_text(pg_db)
