"""SQLite runs on the event loop's thread (lb_common/sqlite_inline.py): a worker that writes
one batch after another (ingest's delivery processor draining a backlog) must still let the
loop's other work run between them (webhooks answered, health checks, consumers)."""

from __future__ import annotations

import asyncio
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
    draining = True

    async def other_work() -> None:
        nonlocal turns
        while draining:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    try:
        for _ in range(50):  # never waits on anything: the lock is free, the file is local
            await db.read_sync(waiting)
            await db.write_sync(store)
    finally:
        draining = False
        await other
        await db.dispose()
    # Every batch gave the loop a turn (without it: none until the loop of writes ended).
    assert turns >= 50
