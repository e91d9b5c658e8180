"""Client-side pacing from Shopify's `X-Shopify-Shop-Api-Call-Limit: <used>/<capacity>`.

The REST Admin API is a leaky bucket per shop and app: each call adds one, the bucket leaks at a
fixed rate (2/s on standard plans, 20/s on Plus; the header does not say which, so the rate is a
setting), and a call into a full bucket gets 429 with Retry-After.

The header's figure is the truth when it arrives; between answers the pacer lets the estimate
leak and adds its own calls as it sends them, so concurrent coroutines see their joint pressure.
Below `soft_fraction` of the capacity calls go out at once; above it each call waits a growing
share of one leak interval, reaching exactly the leak rate at the top, so a long run settles at
the sustainable rate instead of bouncing off 429s. After a 429 every call waits Retry-After.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping

_HEADER = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_call_limit(value: str | None) -> tuple[int, int] | None:
    match = _HEADER.match(value or "")
    if match is None or int(match[2]) <= 0:
        return None
    return int(match[1]), int(match[2])


class CallLimitPacer:
    def __init__(
        self,
        *,
        leak_per_second: float = 2.0,
        capacity: int = 40,
        soft_fraction: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.leak_per_second = leak_per_second
        self.capacity = capacity
        self.soft_fraction = soft_fraction
        self._clock = clock
        self._sleep = sleep
        self._used = 0.0
        self._at = clock()
        self._blocked_until = 0.0
        self._in_flight = 0
        self.waited_seconds = 0.0

    def _estimate(self, at: float) -> float:
        return max(0.0, self._used - max(0.0, at - self._at) * self.leak_per_second)

    def delay_for_next_call(self) -> float:
        """Seconds to wait before the next call; reserves that call's slot."""
        now = self._clock()
        start = max(now, self._at, self._blocked_until)
        used = self._estimate(start) + 1
        # Keep one slot spare for calls from other processes of this app.
        limit = max(1.0, self.capacity - 1.0)
        soft = self.soft_fraction * limit
        interval = 1 / self.leak_per_second
        extra = 0.0
        if used > limit:
            extra = (used - limit) * interval
        elif used > soft:
            extra = (used - soft) / (limit - soft) * interval
        send_at = start + extra
        self._used = max(0.0, used - extra * self.leak_per_second)
        self._at = send_at
        return send_at - now

    async def before_call(self) -> None:
        wait = self.delay_for_next_call()
        if wait > 0:
            self.waited_seconds += wait
            await self._sleep(wait)
        self._in_flight += 1

    def abandon(self) -> None:
        """A call that got no answer (network error): no longer in flight."""
        self._in_flight = max(0, self._in_flight - 1)

    def observe(
        self, headers: Mapping[str, str], status_code: int, retry_after: float | None = None
    ) -> None:
        now = self._clock()
        self._in_flight = max(0, self._in_flight - 1)
        parsed = parse_call_limit(headers.get("X-Shopify-Shop-Api-Call-Limit"))
        if parsed is not None:
            used, self.capacity = parsed
            if self._at <= now:
                # The server's figure is the truth, plus our calls it has not answered yet.
                self._used, self._at = float(used + self._in_flight), now
            # Otherwise calls are reserved for later; that chain already assumes a fuller bucket.
        if status_code == 429:
            wait = retry_after if retry_after is not None else 1 / self.leak_per_second
            self._blocked_until = max(self._blocked_until, now + wait)
