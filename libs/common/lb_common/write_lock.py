"""One writer at a time on a SQLite file, across coroutines and across processes.

SQLite allows one writer; a second one waits in SQLite's busy handler, which sleeps in growing
steps (up to 100 ms) and wrecks latency under load. Writers queue here instead, on an advisory
`flock` on `<database>.lock` that all processes sharing the file take (web processes and a
worker; see docs/architecture.md): coroutines behind an asyncio lock and one open file,
the writer thread on an open file of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


class SQLiteWriteLock:
    def __init__(self, database_path: str | None) -> None:
        self._in_process = asyncio.Lock()
        self._lock_path = Path(f"{database_path}.lock") if database_path else None
        self._fd: int | None = None
        self._thread_fd: int | None = None
        # A blocked flock waits on this thread, never on the event loop.
        self._waiter: ThreadPoolExecutor | None = None

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
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

    @contextlib.contextmanager
    def held_by_thread(self) -> Iterator[None]:
        """For a transaction run on a thread (Database.write_sync): the lock is held exactly as
        long as the transaction, not until the event loop gets round to resuming its caller.
        Its own open file: flock excludes other open files of the same file, in this process
        too, so it also excludes the coroutines' path (held())."""
        if self._lock_path is None:
            yield
            return
        if self._thread_fd is None:
            self._thread_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._thread_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._thread_fd, fcntl.LOCK_UN)

    def held_here(self) -> bool:
        """Whether a coroutine of this process holds it (held()); for assertions."""
        return self._in_process.locked()

    def try_take(self) -> bool:
        """On the event loop's thread, without waiting: take the lock if nobody holds it (no
        coroutine in held(), no thread, no other process) and say whether it did. The caller
        gives it back with give_back() before it next yields to the loop."""
        if self._in_process.locked():
            return False  # a coroutine holds it (and our shared open file)
        if self._lock_path is None:
            return True
        try:
            fcntl.flock(self._open(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def give_back(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

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
        for fd in (self._fd, self._thread_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._thread_fd = None
