"""The databases a test's services use: SQLite files in the test's folder, or empty PostgreSQL
databases of its own (one per service; emptied after the test and reused by later ones).

A test that asks for the `store` fixture (every test under tests/e2e does) runs once per store
named by `--stores` / `LEDGERBRIDGE_TEST_STORES` (default: both). `running_system` and the
other helpers here take their databases from the test's store.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Literal, cast

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.support import services

StoreKind = Literal["sqlite", "postgresql"]
KINDS: tuple[StoreKind, ...] = ("sqlite", "postgresql")


class Store:
    """Database URLs by service name; the same name gives the same database all test long
    (two systems started in one test, e.g. a web and a worker process, share it)."""

    kind: StoreKind

    async def url(self, service: str) -> str:
        raise NotImplementedError

    async def close(self) -> None:
        """Drop what the test made."""


class SQLiteStore(Store):
    kind: StoreKind = "sqlite"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    async def url(self, service: str) -> str:
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"


class PostgresPool:
    """Databases reused across the tests of one session: CREATE DATABASE forces a checkpoint and
    took 0.6-1 s each on a busy machine, while emptying one (a new `public` schema) takes a few
    milliseconds. A database is handed to one store at a time and comes back empty; the pool
    drops them all when the session ends (names start with `lbt_`)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url)
        # Short and unique: PostgreSQL cuts names at 63 bytes, and parallel runs share a server.
        self._prefix = f"lbt_{uuid.uuid4().hex[:10]}"
        self._free: list[str] = []
        self._all: list[str] = []

    async def connect(self, database: str | None = None) -> asyncpg.Connection:
        u = self.admin_url
        return await asyncpg.connect(
            host=u.host,
            port=u.port,
            user=u.username,
            password=u.password,
            database=database or u.database,
            timeout=5,
        )

    def url(self, database: str) -> str:
        return self.admin_url.set(
            drivername="postgresql+asyncpg", database=database
        ).render_as_string(hide_password=False)

    async def acquire(self) -> str:
        if self._free:
            return self._free.pop()
        name = f"{self._prefix}_{len(self._all)}"
        admin = await self.connect()
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        self._all.append(name)
        return name

    async def release(self, name: str) -> None:
        """Empty the database (whatever the test left connected is cut off) and keep it."""
        admin = await self.connect()
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        finally:
            await admin.close()
        conn = await self.connect(name)
        try:
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()
        self._free.append(name)

    async def drop_all(self) -> None:
        if not self._all:
            return
        admin = await self.connect()
        try:
            for name in self._all:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        self._all.clear()
        self._free.clear()


_pools: dict[str, PostgresPool] = {}


def postgres_pool() -> PostgresPool:
    url = services.postgres_url()
    if url not in _pools:
        _pools[url] = PostgresPool(url)
    return _pools[url]


async def drop_postgres_databases() -> None:
    """At the end of the session: drop every database the pools made."""
    for pool in _pools.values():
        await pool.drop_all()


class PostgresStore(Store):
    kind: StoreKind = "postgresql"

    def __init__(self, pool: PostgresPool) -> None:
        self._pool = pool
        self._held: dict[str, str] = {}

    async def url(self, service: str) -> str:
        if service not in self._held:
            self._held[service] = await self._pool.acquire()
        return self._pool.url(self._held[service])

    async def close(self) -> None:
        held, self._held = self._held, {}
        for name in held.values():
            await self._pool.release(name)


def selected_kinds(config: pytest.Config) -> list[StoreKind]:
    """The stores `--stores` names, checked."""
    kinds = [k.strip() for k in str(config.getoption("--stores")).split(",") if k.strip()]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise pytest.UsageError(f"--stores: unknown store {sorted(unknown)}; use {KINDS}")
    return cast(list[StoreKind], kinds)


async def postgres_store() -> PostgresStore:
    """A store on the tests' PostgreSQL. If none answers the test is skipped, or fails under
    CI, which promises one: a suite must not pass by skipping PostgreSQL."""
    pool = postgres_pool()
    try:
        admin = await pool.connect()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        reason = f"no PostgreSQL at {pool.admin_url.render_as_string()}: {exc!r}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    await admin.close()
    return PostgresStore(pool)
