"""Keeping one Keap credential's calls inside its quota [KQ]: 240 calls a minute for a personal
access token or service account key (1,500 for an OAuth app), and a spike cap of 10 a second.

Calls are spaced evenly at the minute's limit (240 a minute: one each 0.25 s), which also keeps
under the spike cap; one pacer per credential in a process (`shared_budget.process_wide`), so
every connection and coroutine using that key share it. An answer whose
x-keap-product-throttle-available says 0, or a 429, holds every call until the next minute; a
call that would wait longer than `MAX_WAIT` is refused at once instead (KeapRateLimited with the
wait as retry_after), so the caller backs off rather than stalling inside one call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

MAX_WAIT = 5.0


class KeapPacer:
    def __init__(self, per_minute: int) -> None:
        self.spacing = 60.0 / per_minute
        self._next = 0.0
        self._held_until = 0.0

    async def wait(self) -> None:
        # No await before the reservation: coroutines of one loop reserve in turn, no lock.
        now = time.monotonic()
        at = max(now, self._next, self._held_until)
        self._next = at + self.spacing
        if at > now:
            await asyncio.sleep(at - now)

    def held_for(self) -> float:
        """Seconds until the quota lets calls through again (0: not held)."""
        return max(0.0, self._held_until - time.monotonic())

    def seconds_to_next_minute(self) -> float:
        return 60.0 - (time.time() % 60.0) + 0.05

    def observe(self, status: int, headers: Mapping[str, str]) -> float | None:
        """Take an answer's figures; returns how long calls are now held, if they are."""
        available = headers.get("x-keap-product-throttle-available")
        if status == 429 or (available is not None and available.strip() == "0"):
            hold = self.seconds_to_next_minute()
            self._held_until = max(self._held_until, time.monotonic() + hold)
            return hold
        return None
