"""Client-side pacing from e-conomic's `X-RateLimiting` header.

e-conomic answers every call with `X-CallCost: 3` and
`X-RateLimiting: token-limit-10000-per-60-seconds: 147/10000` (used/limit per window), and with
429 once the agreement's bucket is empty. The bucket belongs to the agreement, not to a process
or a client object, so one pacer is shared by every EconomicClient for the same agreement in this
process (other processes are seen through the server's `used` figure, which is authoritative).
The per-process registry and the soft band are shared with the Shopify pacer
(`lb_connectors/shared_budget.py`).

Design:
- The server's last figure is the truth; between answers the pacer assumes the bucket drains
  linearly at limit/window tokens per second and adds its own calls' cost as it sends them, so
  concurrent coroutines see the pressure they create together.
- Below `soft_fraction` of the limit calls go out at once. Above it each call waits a share of
  the time the bucket needs to refill that call's cost, growing linearly to the full refill time
  at the limit: the client slows *before* the bucket is empty and, at the limit, runs at exactly
  the sustainable rate instead of hitting 429.
- After a 429 every call for that agreement waits for Retry-After (or one call's refill time).
- Waits are capped (`max_delay`): a long stall is better surfaced as a 429 → TransientError for
  the messaging layer's backoff than hidden inside one request.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from ..shared_budget import process_wide, slow_down

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
        soft_fraction: float = 0.75,
        max_delay: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.soft_fraction = soft_fraction
        self.max_delay = max_delay
        self._clock = clock
        self._sleep = sleep
        self._status: RateLimitStatus | None = None
        self._used = 0.0  # estimated tokens in use at `_at`
        self._at = 0.0
        self._cost = 1
        self._blocked_until = 0.0

    def _estimate(self, now: float) -> float:
        assert self._status is not None
        rate = self._status.limit / self._status.window_seconds
        return max(0.0, self._used - max(0.0, now - self._at) * rate)

    def delay_for_next_call(self) -> float:
        """Seconds to wait before the next call; also reserves that call's cost and slot."""
        now = self._clock()
        status = self._status
        if status is None:
            return max(0.0, self._blocked_until - now)
        rate = status.limit / status.window_seconds
        # Calls already reserved for later go first: queue behind the last one.
        start = max(now, self._at, self._blocked_until)
        used = self._estimate(start) + self._cost
        soft = self.soft_fraction * status.limit
        extra = 0.0
        if used > status.limit:
            extra = (used - status.limit) / rate
        elif used > soft:
            extra = slow_down((used - soft) / (status.limit - soft), self._cost / rate)
        send_at = min(start + extra, now + self.max_delay)
        self._used = max(0.0, used - max(0.0, send_at - start) * rate)
        self._at = send_at
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
        parsed = RateLimitStatus.parse(headers.get("X-RateLimiting"))
        if parsed is not None:
            self._status = parsed
            self._used = float(parsed.used)
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
