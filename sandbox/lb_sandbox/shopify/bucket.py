"""Shopify's leaky bucket for the REST Admin API, per shop and app.

Each request adds one to the bucket; the bucket leaks at a fixed rate (standard plans: 40 deep,
2 per second). A request that finds the bucket full is refused with 429 and a Retry-After, and
every answer carries `X-Shopify-Shop-Api-Call-Limit: <used>/<capacity>`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class LeakyBucket:
    def __init__(
        self, capacity: int, leak_per_second: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.leak_per_second = leak_per_second
        self._clock = clock
        self._level = 0.0
        self._at = clock()

    def _leak(self) -> None:
        now = self._clock()
        self._level = max(0.0, self._level - (now - self._at) * self.leak_per_second)
        self._at = now

    def take(self) -> bool:
        self._leak()
        if self._level + 1 > self.capacity:
            return False
        self._level += 1
        return True

    def retry_after(self) -> float:
        """Seconds until one more request fits."""
        self._leak()
        excess = self._level + 1 - self.capacity
        return max(0.0, excess / self.leak_per_second)

    def fill(self) -> None:
        self._leak()
        self._level = float(self.capacity)

    @property
    def used(self) -> int:
        self._leak()
        return min(self.capacity, math.ceil(self._level))

    def header(self) -> str:
        return f"{self.used}/{self.capacity}"
