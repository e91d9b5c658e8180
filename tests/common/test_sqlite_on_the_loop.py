"""SQLite runs on the event loop's thread (lb_common/sqlite_inline.py): a worker that writes
one batch after another (ingest's delivery processor draining a backlog, a pruning job) must
still let the loop's other work run between them (webhooks answered, health checks,
consumers), whichever write path it takes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import Connection, text

from lb_common.db import Database


async def test_a_loop_of_plain_writes_and_reads_leaves_room_for_other_tasks(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'loop.db'}")

    def create(connection: Connection) -> None:
        connection.execute(text("CREATE TABLE deliveries (id INTEGER PRIMARY KEY)"))

    def store(connection: Connection) -> None:
        connection.execute(text("INSERT INTO deliveries DEFAULT VALUES"))

    def waiting(connection: Connection) -> int:
        return int(connection.execute(text("SELECT count(*) FROM deliveries")).scalar_one())

    await db.write_sync(create)
    turns = 0
    running = False

    async def other_work() -> None:
        nonlocal turns
        while running:
            turns += 1
            await asyncio.sleep(0)

    async def turns_beside(work: Callable[[], Awaitable[None]]) -> int:
        """How many turns another task got while `work` ran."""
        nonlocal running, turns
        turns, running = 0, True
        other = asyncio.create_task(other_work())
        try:
            await work()
        finally:
            running = False
            await other
        return turns

    async def plain_writes() -> None:
        for _ in range(50):  # never waits on anything: the lock is free, the file is local
            await db.write_sync(store)

    async def session_writes() -> None:
        for _ in range(50):
            async with db.transaction() as session:
                connection = await session.connection()
                await connection.execute(text("INSERT INTO deliveries DEFAULT VALUES"))

    async def connection_writes() -> None:
        for _ in range(50):
            async with db.write_connection() as connection:
                await connection.execute(text("INSERT INTO deliveries DEFAULT VALUES"))

    async def reads() -> None:
        for _ in range(50):
            await db.read_sync(waiting)

    try:
        # Each write or read gave the loop a turn (without: none until its loop ended).
        for work in (plain_writes, session_writes, connection_writes, reads):
            assert await turns_beside(work) >= 50, work.__name__
    finally:
        await db.dispose()
