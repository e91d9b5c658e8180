"""Client-side pacing from e-conomic's `X-RateLimiting` header.

e-conomic answers every call with `X-CallCost: 3` and
`X-RateLimiting: token-limit-10000-per-60-seconds: 147/10000` (used/limit per window), and with
429 once the agreement's bucket is empty. The bucket belongs to the agreement, not to a process
or a client object, so every process calling the agreement (each service and its replicas)
draws on it. The pacer shares that budget as the Shopify pacer does
(`lb_connectors/shared_budget.py`): one pacer per agreement in a process (`shared_pacer`), the
server's `used` figure in every answer as the truth (it includes what the other processes
spent), and a soft band over the upper half of the bucket where each call waits a share of its
refill time, up to `ROOM_FOR` refill times at the limit, so several processes settle together
inside the band at the agreement's refill rate instead of meeting 429.

Design:
- Between answers the pacer assumes the bucket drains linearly at limit/window tokens per second
  and adds its own calls' cost as it reserves them, so concurrent coroutines of one process see
  the pressure they create together. An answer replaces the estimate with the server's figure
  plus the calls this process reserved for later.
- Inside the band a call goes out a spacing after the one reserved before it, growing linearly
  with the depth (`shared_budget.slow_down`); the process as a whole, however many coroutines
  it runs, then sends at most one call per spacing. Past the limit a call waits until it fits.
- After a 429 every call for that agreement waits for Retry-After (or one call's refill time).
- Waits for the bucket or a Retry-After are capped (`max_delay`): a long stall is better surfaced as a 429 → TransientError for
  the messaging layer's backoff than hidden inside one request.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from ..shared_budget import BAND_FRACTION, ROOM_FOR, process_wide, slow_down

_HEADER = re.compile(r"token-limit-(\d+)-per-(\d+(?:\.\d+)?)-seconds:\s*(\d+)\s*/\s*(\d+)")


@dataclass(frozen=True)
class RateLimitStatus:
    limit: int
    window_seconds: float
    used: int

    @classmethod
    def parse(cls, header: str | None) -> RateLimitStatus | None:
        match = _HEADER.search(header or "")
        if match is None:
            return None
        limit, window, used = int(match[1]), float(match[2]), int(match[3])
        if limit <= 0 or window <= 0:
            return None
        return cls(limit=limit, window_seconds=window, used=used)


class RateLimitPacer:
    def __init__(
        self,
        *,
        band_fraction: float = BAND_FRACTION,
        room_for: float = ROOM_FOR,
        max_delay: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.band_fraction = band_fraction
        self.room_for = room_for
        self.max_delay = max_delay
        self._clock = clock
        self._sleep = sleep
        self._status: RateLimitStatus | None = None
        self._used = 0.0  # estimated tokens in use at `_at`, our reservations included
        self._at = 0.0
        self._tail = 0.0  # send time of the last call reserved: the next one queues behind it
        self._reserved: deque[tuple[float, int]] = deque()  # (send time, cost) of our calls
        self._cost = 1
        self._blocked_until = 0.0

    def _estimate(self, at: float) -> float:
        assert self._status is not None
        rate = self._status.limit / self._status.window_seconds
        return max(0.0, self._used - max(0.0, at - self._at) * rate)

    def delay_for_next_call(self) -> float:
        """Seconds to wait before the next call; also reserves that call's cost and slot."""
        now = self._clock()
        status = self._status
        if status is None:
            return max(0.0, self._blocked_until - now)
        rate = status.limit / status.window_seconds
        # The depth is read now, our reservations included: draining it to a later start would
        # assume that nobody else spends meanwhile.
        used = self._estimate(now) + self._cost
        band = self.band_fraction * status.limit
        spacing = 0.0
        if band > 0:
            depth = (used - (status.limit - band)) / band
            spacing = slow_down(depth, self._cost / rate, room_for=self.room_for)
        fits_at = now + min(max(0.0, used - status.limit) / rate, self.max_delay)
        # The queue is not capped: it is as long as this process's concurrent calls times the
        # spacing, and sending the calls at a cap together would be a burst.
        send_at = max(max(now, self._tail) + spacing, fits_at, self._blocked_until)
        self._used, self._at = used, now
        self._tail = send_at
        self._reserved.append((send_at, self._cost))
        return send_at - now

    async def before_call(self) -> None:
        wait = self.delay_for_next_call()
        if wait > 0:
            await self._sleep(wait)

    def observe(
        self, headers: Mapping[str, str], status_code: int, retry_after: float | None = None
    ) -> None:
        now = self._clock()
        cost = headers.get("X-CallCost")
        if cost and cost.isdigit() and int(cost) > 0:
            self._cost = int(cost)
        while self._reserved and self._reserved[0][0] <= now:
            self._reserved.popleft()
        parsed = RateLimitStatus.parse(headers.get("X-RateLimiting"))
        if parsed is not None:
            # The server's figure, plus the calls we reserved that have not gone out yet.
            self._status = parsed
            self._used = float(parsed.used) + sum(c for _, c in self._reserved)
            self._at = now
        if status_code == 429:
            if retry_after is None and self._status is not None:
                retry_after = self._cost * self._status.window_seconds / self._status.limit
            self._blocked_until = max(
                self._blocked_until, now + min(retry_after or 1.0, self.max_delay)
            )

    @property
    def status(self) -> RateLimitStatus | None:
        return self._status


def shared_pacer(base_url: str, agreement_grant_token: str) -> RateLimitPacer:
    """The process-wide pacer of one agreement."""
    return process_wide("economic", (base_url, agreement_grant_token), RateLimitPacer)
