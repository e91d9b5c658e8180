"""Client-side pacing for QuickBooks' throttle per company (realm): 500 requests a minute, 10 a
second and 10 at once, answered with 429 ThrottleExceeded beyond any of them (Intuit's blog,
2016-08-08 and 2025-08-13).

QuickBooks reports no remaining budget in its answers, so unlike e-conomic's pacer
(`economic/ratelimit.py`) this one cannot take the server's figure as the truth: it counts its
own calls in a sliding minute and holds a semaphore of concurrent calls. One pacer per company
in a process (`lb_connectors/shared_budget.process_wide`), shared by every client of it. Several
processes calling one company split the budget through their settings
(`per_minute`/`concurrent`); whatever still meets a 429 waits its Retry-After (all calls of the
company in this process do), then the client retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from ..shared_budget import process_wide
from .errors import QuickBooksRateLimited

PER_MINUTE, PER_SECOND, CONCURRENT = 500, 10, 10


class RealmPacer:
    def __init__(
        self,
        *,
        per_minute: int = PER_MINUTE,
        per_second: int = PER_SECOND,
        concurrent: int = CONCURRENT,
        window: float = 60.0,
        max_delay: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.per_minute = per_minute
        self.per_second = per_second
        self.window = window
        self.max_delay = max_delay
        self._clock = clock
        self._sleep = sleep
        self._slots = asyncio.Semaphore(concurrent)
        self._sent: deque[float] = deque()
        self._blocked_until = 0.0
        self.in_flight = 0
        self.most_in_flight = 0

    def _delay(self) -> float:
        """Seconds until the next call fits the minute; reserves its place."""
        now = self._clock()
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        start = max(now, self._blocked_until)
        # The call `limit` calls back must leave its window first (the minute, and the second).
        for limit, window in ((self.per_minute, self.window), (self.per_second, 1.0)):
            if len(self._sent) >= limit:
                start = max(start, self._sent[-limit] + window)
        if start - now > self.max_delay:
            # A long stall goes to the messaging layer's backoff instead of holding a handler.
            raise QuickBooksRateLimited(
                "ledgerbridge is holding back calls to this QuickBooks company (500 a minute); "
                "retrying later",
                retry_after=start - now,
            )
        self._sent.append(start)
        return start - now

    @contextlib.asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        async with self._slots:
            wait = self._delay()
            if wait > 0:
                await self._sleep(wait)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1

    def throttled(self, retry_after: float | None) -> None:
        """A 429: every call of this company waits Retry-After (or a second)."""
        pause = min(retry_after if retry_after is not None else 1.0, self.max_delay)
        self._blocked_until = max(self._blocked_until, self._clock() + pause)


def shared_pacer(base_url: str, realm_id: str, *, per_minute: int, concurrent: int) -> RealmPacer:
    return process_wide(
        "quickbooks",
        (base_url, realm_id),
        lambda: RealmPacer(per_minute=per_minute, concurrent=concurrent),
    )
