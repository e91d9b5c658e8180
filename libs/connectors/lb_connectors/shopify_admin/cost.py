"""Client-side pacing from the GraphQL Admin API's calculated query cost.

Shopify keeps a leaky bucket of points per app and shop: a query reserves its requested cost,
is refunded the part it did not use, and the bucket refills at the plan's restore rate
(standard 100 points/s, Advanced 200, Plus 1,000). Every answer carries
`extensions.cost.throttleStatus {maximumAvailable, currentlyAvailable, restoreRate}`; a query
that does not fit is answered HTTP 200 with `errors[].extensions.code = "THROTTLED"`.

The bucket belongs to the app on one shop, so every process calling that shop draws on it, as
every process calling an e-conomic agreement draws on its bucket; the pacer shares that budget
the same way (`lb_connectors/shared_budget.py`): one pacer per shop in a process
(`shared_cost_pacer`), Shopify's figure in every answer as the truth (it includes what the other
processes spent), and a soft band over the lower half of the bucket where each call waits a
share of its refill time, so several processes settle together at the restore rate instead of
meeting THROTTLED.

Between answers the pacer estimates the points available: refilled at the restore rate, less
what our own calls in flight reserved. Before each call it waits until the call's expected cost
fits, plus its share of the soft band; after a THROTTLED it waits for the bucket to hold the
requested cost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..shared_budget import BAND_FRACTION, ROOM_FOR, process_wide, slow_down

# Restore rate per plan (points per second), from Shopify's rate-limit page. The bucket size is
# not published; answers carry it as `maximumAvailable` (20 x the restore rate in the fixtures
# seen, which the defaults assume until the first answer says otherwise).
RESTORE_RATES = {"standard": 100.0, "advanced": 200.0, "plus": 1000.0}
BUCKET_SECONDS = 20.0
# The soft band (shared_budget.BAND_FRACTION, ROOM_FOR): the lower half of the bucket, room for
# 8 processes on one shop when their calls are small beside the band (up to 125 points on a
# standard plan); a larger call waits at most until the band would be full again, so fewer of
# those fit. bench/shopify_shared_bucket.py measures 4 processes.


@dataclass(frozen=True)
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float

    @classmethod
    def from_extensions(cls, extensions: Any) -> ThrottleStatus | None:
        try:
            status = extensions["cost"]["throttleStatus"]
            return cls(
                float(status["maximumAvailable"]),
                float(status["currentlyAvailable"]),
                float(status["restoreRate"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


class CostPacer:
    def __init__(
        self,
        *,
        restore_rate: float = RESTORE_RATES["standard"],
        maximum_available: float | None = None,
        band_fraction: float = BAND_FRACTION,
        room_for: float = ROOM_FOR,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.restore_rate = restore_rate
        self.maximum_available = maximum_available or restore_rate * BUCKET_SECONDS
        self.band_fraction = band_fraction
        self.room_for = room_for
        self._clock = clock
        self._sleep = sleep
        self._available = self.maximum_available
        self._at = clock()
        self._blocked_until = 0.0
        self.waited_seconds = 0.0

    def available(self, at: float | None = None) -> float:
        at = self._clock() if at is None else at
        refilled = self._available + max(0.0, at - self._at) * self.restore_rate
        return min(self.maximum_available, refilled)

    def delay_for(self, cost: float) -> float:
        """Seconds to wait before a call expected to cost `cost`; reserves those points."""
        now = self._clock()
        cost = min(cost, self.maximum_available)
        rate = self.restore_rate
        # Calls already reserved for later go first: queue behind the last one.
        start = max(now, self._at, self._blocked_until)
        after = self.available(start) - cost
        extra = max(0.0, -after) / rate  # until the call fits
        band = self.band_fraction * self.maximum_available
        if band > 0 and after < band:
            depth = (band - max(0.0, after)) / band
            # Never longer than the bucket takes to refill the band, which caps the wait of a
            # call that is large beside the band.
            extra += min(slow_down(depth, cost / rate, room_for=self.room_for), depth * band / rate)
        send_at = start + extra
        self._available = self.available(send_at) - cost
        self._at = send_at
        return send_at - now

    async def before_call(self, cost: float) -> None:
        wait = self.delay_for(cost)
        if wait > 0:
            self.waited_seconds += wait
            await self._sleep(wait)

    def observe(self, status: ThrottleStatus | None, *, reserved: float) -> None:
        """An answer: Shopify's figure replaces our estimate (our reservation for this call is
        settled; reservations of calls still in flight stay deducted)."""
        if status is None:
            # No cost figures (a transport error page): give the reservation back.
            self._available = min(self.maximum_available, self._available + reserved)
            return
        now = self._clock()
        self.restore_rate = status.restore_rate or self.restore_rate
        self.maximum_available = status.maximum_available or self.maximum_available
        estimate_now = self.available(now)
        # Our estimate already took this call's reservation and others in flight; the server's
        # figure took this call's actual cost. Keep the lower of the two, so concurrent calls
        # are not double-spent and one optimistic answer does not open the gates.
        self._available = min(status.currently_available, estimate_now + reserved)
        self._at = now

    def hold(self, seconds: float) -> None:
        """A 429 with Retry-After: no call before then."""
        self._blocked_until = max(self._blocked_until, self._clock() + max(0.0, seconds))

    def throttled(self, status: ThrottleStatus | None, requested: float) -> None:
        """A THROTTLED answer: hold every call until the bucket holds `requested` points."""
        now = self._clock()
        if status is not None:
            self.restore_rate = status.restore_rate or self.restore_rate
            self.maximum_available = status.maximum_available or self.maximum_available
            self._available, self._at = status.currently_available, now
        missing = max(0.0, min(requested, self.maximum_available) - self.available(now))
        self._blocked_until = max(self._blocked_until, now + missing / self.restore_rate)
        # The refused call's reservation is void: the server did not take it.


def shared_cost_pacer(admin_url: str, access_token: str, plan: str = "standard") -> CostPacer:
    """The process-wide pacer of one app on one shop (its Admin URL and access token)."""
    return process_wide(
        "shopify",
        (admin_url.rstrip("/"), access_token),
        lambda: CostPacer(restore_rate=RESTORE_RATES.get(plan, RESTORE_RATES["standard"])),
    )
