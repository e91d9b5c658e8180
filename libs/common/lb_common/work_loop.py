"""Background jobs that loop until the process stops.

`WorkLoop` works in batches: again at once while it finds work, otherwise it waits until a
commit in this process flags new work, or until the poll interval (for work that other
processes commit). The outbox relay and ingest's delivery processor run this way. Given its
`batch_size`, a pass that did less than a full batch is the last one too, unless a commit
flagged new work meanwhile: the pass that would only find nothing is skipped (an empty claim,
a write transaction, after every pass of the outbox relay).

`every` runs a job at an interval (reconciliation, the stalled-order sweep, re-sending
connections): a failed run is logged and tried again at the next one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from lb_common.db import CommitInfo, Database

log = logging.getLogger(__name__)


class WorkLoop:
    def __init__(
        self,
        db: Database,
        *,
        flag: str,
        work: Callable[[], Awaitable[int]],
        poll_interval: float,
        what: str,
        batch_size: int | None = None,
    ) -> None:
        """`flag`: the commit-info key that says "new work"; `work`: one batch, returns how
        many it did; `what`: the job's name in the log; `batch_size`: the most one pass does,
        when it is known (see the module docstring)."""
        self._batch_size = batch_size
        self._flag = flag
        self._work = work
        self._poll_interval = poll_interval
        self._what = what
        self._wake = asyncio.Event()
        db.on_commit(self._after_commit)

    def _after_commit(self, info: CommitInfo) -> None:
        if info.pop(self._flag, False):
            self._wake.set()

    def again(self) -> None:
        """Run the next pass at once (the work knows there is more, e.g. it claimed it)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # Cleared before the pass: a commit during it sets it again, and is not missed.
            self._wake.clear()
            try:
                done = await self._work()
            except Exception:  # the job must outlive a broken database or broker moment
                log.exception("%s failed", self._what)
                done = 0
            if done and (self._batch_size is None or done >= self._batch_size):
                continue
            if self._wake.is_set():
                continue
            waiters = {asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())}
            _, pending = await asyncio.wait(
                waiters, timeout=self._poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`, or less if `stop` is set meanwhile; True when it is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


async def every(
    interval: float,
    stop: asyncio.Event,
    job: Callable[[], Awaitable[object]],
    *,
    what: str,
    at_start: bool = False,
) -> None:
    """Run `job` every `interval` seconds until `stop` is set (`at_start`: once at once too;
    an interval of 0 or less: at start only). A run that fails is logged, not fatal."""
    if interval <= 0 and not at_start:
        await stop.wait()  # returning early would make a `lead`er run it again
        return
    if not at_start and await sleep_unless_stopped(stop, interval):
        return
    while True:
        try:
            await job()
        except Exception:
            log.exception("%s failed; trying again at the next interval", what)
        if interval <= 0:
            await stop.wait()
            return
        if await sleep_unless_stopped(stop, interval):
            return
