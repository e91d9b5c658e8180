"""One writer at a time on a SQLite file, across coroutines and across processes.

SQLite allows one writer; a second one waits in SQLite's busy handler, which sleeps in growing
steps (up to 100 ms) and wrecks latency under load. Writers queue here instead, on an advisory
`flock` on `<database>.lock` that all processes sharing the file take (web processes and a
worker; see docs/architecture.md): coroutines behind an asyncio lock and one open file. Holding
it is what lets the statements run on the event loop's thread (sqlite_inline.py): a write
transaction begun under it never waits in SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


class SQLiteWriteLock:
    def __init__(self, database_path: str | None) -> None:
        self._in_process = asyncio.Lock()
        self._lock_path = Path(f"{database_path}.lock") if database_path else None
        self._fd: int | None = None
        # A blocked flock waits on this thread, never on the event loop.
        self._waiter: ThreadPoolExecutor | None = None

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        # A write on SQLite never waits once it holds this, so a loop of writes (a worker
        # draining a backlog, a pruning job) would keep the event loop from everything else
        # until done: every write gives the loop a turn first.
        await asyncio.sleep(0)
        async with self._in_process:
            if self._lock_path is None:
                yield
                return
            fd = self._open()
            await self._acquire(fd)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def held_here(self) -> bool:
        """Whether a coroutine of this process holds it (held()); for assertions."""
        return self._in_process.locked()

    def _open(self) -> int:
        if self._fd is None:
            assert self._lock_path is not None
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    async def _acquire(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # uncontended: no thread hand-over
            return
        except BlockingIOError:
            pass
        if self._waiter is None:
            self._waiter = ThreadPoolExecutor(1, thread_name_prefix="sqlite-lock")
        waiting = asyncio.get_running_loop().run_in_executor(
            self._waiter, fcntl.flock, fd, fcntl.LOCK_EX
        )
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # The thread takes the lock anyway: give it back once it has it.
            waiting.add_done_callback(lambda _: fcntl.flock(fd, fcntl.LOCK_UN))
            raise

    def close(self) -> None:
        if self._waiter is not None:
            self._waiter.shutdown(wait=False, cancel_futures=True)
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
