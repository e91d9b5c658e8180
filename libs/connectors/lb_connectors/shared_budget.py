"""What the client-side pacers of a metered API have in common (e-conomic's per-agreement token
bucket, `economic/ratelimit.py`; Shopify's points bucket per app and shop, `shopify_admin/cost.py`).

The budget belongs to the account the API meters, not to a process or a client object, and every
process that calls that account draws on it. Nothing passes between the processes: each answer
carries the API's own figure of the budget, which every pacer takes as the truth (it includes
what the other processes spent), and between answers a pacer counts its own calls.

Two parts are the same for every such API:
- One pacer per account in a process (`process_wide`), so all the clients and coroutines of one
  process see the pressure they create together.
- A soft band above the empty bucket (`slow_down`): inside it each call waits a share of the
  time the bucket needs to refill that call's cost, growing linearly with the depth into the band.
  Processes that each slow down this way settle together at the refill rate, at a depth that
  grows with how many they are: with `room_for=k`, up to k processes settle inside the band
  instead of meeting the API's refusal (429, THROTTLED). One process alone loses no throughput:
  it settles higher in the band, still at the refill rate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

Pacer = TypeVar("Pacer")

# The soft band both pacers use: the lower half of what remains, steep enough for 8 processes on
# one account to settle inside it when their calls are small beside the band.
BAND_FRACTION = 0.5
ROOM_FOR = 8.0

_PROCESS_WIDE: dict[tuple[str, str], Any] = {}


def process_wide(kind: str, identity: tuple[str, ...], make: Callable[[], Pacer]) -> Pacer:
    """The one pacer of `kind` for this account in this process, made on first use. `identity`
    names the account (base URL and token); it is kept as a hash, so no token sits in a key."""
    key = (kind, hashlib.sha256("\x00".join(identity).encode()).hexdigest())
    pacer = _PROCESS_WIDE.get(key)
    if pacer is None:
        pacer = _PROCESS_WIDE[key] = make()
    return pacer


def slow_down(depth: float, refill_seconds: float, *, room_for: float = 1.0) -> float:
    """Seconds a call waits at `depth` into the soft band (0 at its top, 1 at the empty bucket;
    clipped to that range), where `refill_seconds` is the time the bucket takes to refill the
    call's cost. At the bottom of the band one process waits `room_for` refill times."""
    return min(1.0, max(0.0, depth)) * room_for * refill_seconds
