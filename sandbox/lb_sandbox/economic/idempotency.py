"""Idempotency-Key replay, as e-conomic documents it for its APIs.

A write sent again with the same key (same agreement, method and path) within the TTL gets the
first result back, with `X-ResultFromCache: true`. The key is bound to the request body: reusing
it for a different body is refused, since replaying the first result would silently lose the
second request. Results of 5xx are not kept, so a failed attempt can be retried for real.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedResult:
    fingerprint: str
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    stored_at: float


class IdempotencyCache:
    def __init__(self, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._results: dict[tuple[str, str, str], CachedResult] = {}
        self._in_flight: dict[tuple[str, str, str], asyncio.Event] = {}

    @staticmethod
    def fingerprint(body: bytes) -> str:
        return hashlib.sha256(body).hexdigest()

    def lookup(self, key: tuple[str, str, str]) -> CachedResult | None:
        result = self._results.get(key)
        if result is not None and self._clock() - result.stored_at > self.ttl_seconds:
            del self._results[key]
            return None
        return result

    def begin(self, key: tuple[str, str, str]) -> asyncio.Event | None:
        """Claim a key. None when claimed; otherwise the event the running request will set,
        so a retry that overtakes a slow first attempt waits for its result instead of
        running the write twice."""
        running = self._in_flight.get(key)
        if running is not None:
            return running
        self._in_flight[key] = asyncio.Event()
        return None

    def finish(
        self,
        key: tuple[str, str, str],
        fingerprint: str,
        status: int,
        body: bytes,
        headers: tuple[tuple[str, str], ...],
    ) -> None:
        self._release(key)
        if status < 500:
            self._results[key] = CachedResult(fingerprint, status, body, headers, self._clock())

    def abandon(self, key: tuple[str, str, str]) -> None:
        self._release(key)

    def _release(self, key: tuple[str, str, str]) -> None:
        event = self._in_flight.pop(key, None)
        if event is not None:
            event.set()
