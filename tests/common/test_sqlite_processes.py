"""Several processes writing one SQLite file (ingest's web and worker processes do): every
transaction lands, none fails with "database is locked", and a read-then-write never loses an
update, whichever write path it takes (session transaction or write_sync)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import create_engine, text

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from sqlalchemy import text
    from lb_common.db import Database

    async def main(url, name, count):
        db = Database(url)
        for i in range(count):
            # Read, think, write: only serialised write transactions keep every increment.
            if i % 2:
                async with db.transaction() as session:
                    n = (await session.execute(text("SELECT n FROM counter"))).scalar()
                    await asyncio.sleep(0)
                    await session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
                    await session.execute(text("INSERT INTO writes VALUES (:w)"), {"w": f"{name}-{i}"})
            else:
                def work(connection, i=i):
                    n = connection.execute(text("SELECT n FROM counter")).scalar()
                    connection.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
                    connection.execute(text("INSERT INTO writes VALUES (:w)"), {"w": f"{name}-{i}"})
                await db.write_sync(work)
        await db.dispose()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


def test_concurrent_processes_lose_no_write(tmp_path: Path) -> None:
    processes = 3
    path = tmp_path / "shared.db"
    setup = create_engine(f"sqlite:///{path}")
    with setup.begin() as connection:
        connection.execute(text("PRAGMA journal_mode=WAL"))
        connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))
        connection.execute(text("CREATE TABLE writes (w TEXT PRIMARY KEY)"))
    url = f"sqlite+aiosqlite:///{path}"
    count = 150
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, f"p{n}", str(count)], stderr=subprocess.PIPE
        )
        for n in range(processes)
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors.decode()
    with setup.connect() as connection:
        assert connection.execute(text("SELECT n FROM counter")).scalar() == processes * count
        assert connection.execute(text("SELECT count(*) FROM writes")).scalar() == processes * count
    setup.dispose()
