"""Per-agreement token bucket behind `X-CallCost` and `X-RateLimiting`.

The header reads `token-limit-<N>-per-<W>-seconds: <used>/<N>`. The sandbox models it as a bucket
that drains continuously at N/W tokens per second: each call adds its cost to `used`, and a call
that would take `used` past N is refused with 429 (and costs nothing).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self, limit: int, window_seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._used = 0.0
        self._at = clock()

    def _drain(self) -> None:
        now = self._clock()
        rate = self.limit / self.window_seconds
        self._used = max(0.0, self._used - (now - self._at) * rate)
        self._at = now

    def take(self, cost: int) -> bool:
        self._drain()
        if self._used + cost > self.limit:
            return False
        self._used += cost
        return True

    def seconds_until(self, cost: int) -> float:
        """How long until a call of `cost` would fit (for Retry-After)."""
        self._drain()
        excess = self._used + cost - self.limit
        return max(0.0, excess * self.window_seconds / self.limit)

    def exhaust(self) -> None:
        """Fill the bucket (used by the 429-burst fault and by tests)."""
        self._drain()
        self._used = float(self.limit)

    @property
    def used(self) -> int:
        self._drain()
        return math.ceil(self._used)

    def header(self) -> str:
        window = (
            int(self.window_seconds)
            if self.window_seconds == int(self.window_seconds)
            else self.window_seconds
        )
        return f"token-limit-{self.limit}-per-{window}-seconds: {self.used}/{self.limit}"
