"""Schema migrations: one Alembic history per service, run at start-up.

Each service keeps its history in `lb_<service>/migrations/` (`env.py` calls `run_env` below,
`versions/` holds the revisions). `migrate()` upgrades the service's database to head:

- PostgreSQL: replicas starting together queue on a transaction-scoped advisory lock (a fixed
  key per service), and the whole upgrade is one transaction (PostgreSQL has transactional DDL):
  the first replica upgrades, the others then find the database at head.
- SQLite: the upgrade runs in one `BEGIN IMMEDIATE` transaction, queued on the database's
  writer lock; another process on the same file waits on SQLite's busy timeout.

Autogenerate (`scripts/new_migration.py`) sees only the service's tables plus `outbox`, `inbox`
and `leases`: every model shares `SQLModel.metadata`, and the others belong to other databases.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from lb_common import connection_copies, inbox, leases, outbox
from lb_common.db import Database, UTCDateTime

#: Tables every service has: the shared mechanisms.
COMMON_TABLES: tuple[type[SQLModel], ...] = (
    outbox.OutboxMessage,
    inbox.InboxEntry,
    leases.Lease,
    connection_copies.ConnectionCopy,
)

# Alembic's `context` is one module-level proxy: upgrades in one process run one at a time.
_process_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def table_names(tables: Iterable[type[SQLModel]]) -> frozenset[str]:
    """The service's tables plus the common ones, by name."""
    return frozenset(m.__table__.name for m in (*COMMON_TABLES, *tables))  # type: ignore[attr-defined]


def lock_key(script_location: Path) -> int:
    """The advisory lock key of a service's migrations (from its package name, e.g. lb_ingest)."""
    digest = hashlib.sha256(f"ledgerbridge.migrate.{script_location.parent.name}".encode())
    return int.from_bytes(digest.digest()[:8], "big", signed=True)


def alembic_config(script_location: Path, tables: Sequence[type[SQLModel]]) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location).replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["tables"] = tuple(tables)
    return config


async def migrate(db: Database, script_location: Path, tables: Sequence[type[SQLModel]]) -> None:
    """Upgrade the service's database to the newest revision (`alembic upgrade head`)."""
    config = alembic_config(script_location, tables)
    async with _process_lock(), db.write_connection() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(script_location)}
            )
        await conn.run_sync(_with_connection(config, lambda: command.upgrade(config, "head")))


async def schema_differences(db: Database, tables: Sequence[type[SQLModel]]) -> list[Any]:
    """What autogenerate would change: the database against the models, the service's tables
    only. Empty when models and migrations agree."""

    def compare(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts=_compare_options(table_names(tables)))
        return list(compare_metadata(context, SQLModel.metadata))

    async with db.engine.connect() as conn:
        return await conn.run_sync(compare)


async def new_revision(
    script_location: Path,
    tables: Sequence[type[SQLModel]],
    message: str,
    *,
    allow_empty: bool = False,
) -> Path | None:
    """Autogenerate the next revision: a scratch SQLite database is migrated to head and
    compared with the models. Returns the new file, or None when nothing changed."""
    config = alembic_config(script_location, tables)
    script = ScriptDirectory.from_config(config)
    numbers = [int(r.revision) for r in script.walk_revisions() if r.revision.isdigit()]
    rev_id = f"{max(numbers, default=0) + 1:04d}"

    def skip_empty(_context: Any, _revision: Any, directives: list[Any]) -> None:
        if not allow_empty and directives[0].upgrade_ops.is_empty():
            directives[:] = []

    config.attributes["process_revision_directives"] = skip_empty
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(f"sqlite+aiosqlite:///{scratch}/scratch.db")
        try:
            await migrate(db, script_location, tables)
            async with _process_lock(), db.write_connection() as conn:
                await conn.run_sync(
                    _with_connection(
                        config,
                        lambda: command.revision(config, message, autogenerate=True, rev_id=rev_id),
                    )
                )
        finally:
            await db.dispose()
    written = sorted((script_location / "versions").glob(f"{rev_id}_*.py"))
    return written[0] if written else None


def run_env(tables: Sequence[type[SQLModel]]) -> None:
    """The body of every service's `migrations/env.py`."""
    from alembic import context

    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations with lb_common.migrations.migrate() (services do at start-up) "
            "or scripts/new_migration.py, which pass the connection"
        )
    names = table_names(config.attributes.get("tables", tables))
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        # Batch mode: ALTERs that SQLite cannot do are done by copying the table.
        render_as_batch=True,
        render_item=_render_item,
        process_revision_directives=config.attributes.get("process_revision_directives"),
        **_compare_options(names),
    )
    with context.begin_transaction():
        context.run_migrations()


def _with_connection(config: Config, run: Callable[[], object]) -> Callable[[Connection], None]:
    def body(conn: Connection) -> None:
        config.attributes["connection"] = conn
        try:
            run()
        finally:
            del config.attributes["connection"]

    return body


def _process_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _process_locks.get(loop)
    if lock is None:
        lock = _process_locks[loop] = asyncio.Lock()
    return lock


def _compare_options(names: frozenset[str]) -> dict[str, Any]:
    def include_name(name: str | None, type_: str, _parents: Any) -> bool:
        return type_ != "table" or name in names

    def include_object(
        obj: Any, name: str | None, type_: str, _reflected: bool, _other: Any
    ) -> bool:
        return type_ != "table" or name in names

    return {"include_name": include_name, "include_object": include_object, "compare_type": True}


def _render_item(type_: str, obj: Any, _context: Any) -> str | Literal[False]:
    """Revisions spell plain SQLAlchemy types, not the project's or SQLModel's decorators."""
    if type_ == "type":
        if isinstance(obj, UTCDateTime):
            return "sa.DateTime(timezone=True)"
        if isinstance(obj, AutoString):
            return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False
