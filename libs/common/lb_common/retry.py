"""How long a failed message waits before its next try, by the cause of the failure.

A schedule is written for people: `"1s x10, 5s x34"` is ten waits of one second, then 34 of five
seconds; units are `ms`, `s`, `min` and `h`. The n-th failure *of one cause* waits the n-th step
of that cause's schedule; a failure after the last step parks the message. Counting per cause
means a message that met contention three times still gets the whole outage schedule when the
ledger then goes down.

A `Retry-After` lengthens a wait to the shortest step of that cause's schedule that is at least as
long, or to its longest step (the wait goes through a queue per distinct delay, so it cannot be
arbitrary). Jitter (up to 20 % shorter) keeps retries from arriving in herds.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

from lb_common.errors import CAUSES, Cause

_STEP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h)\s*(?:[x*]\s*(\d+))?\s*$")
_UNIT_MS = {"ms": 1, "s": 1_000, "min": 60_000, "h": 3_600_000}
MAX_STEPS = 200


def parse_schedule(text: str) -> tuple[int, ...]:
    """`"500ms, 2s x3, 1min"` → (500, 2000, 2000, 2000, 60000). Raises ValueError, naming the
    part it could not read."""
    steps: list[int] = []
    for part in text.split(","):
        if not part.strip():
            continue
        match = _STEP.match(part)
        if match is None:
            raise ValueError(
                f"cannot read retry step {part.strip()!r}: write a duration with its unit, "
                "optionally repeated, e.g. '500ms', '5s x3', '2min'"
            )
        delay = round(float(match[1]) * _UNIT_MS[match[2]])
        if delay < 1:
            raise ValueError(f"retry step {part.strip()!r} must wait at least 1 ms")
        steps += [delay] * int(match[3] or 1)
    if len(steps) > MAX_STEPS:
        raise ValueError(f"a retry schedule may have at most {MAX_STEPS} steps, not {len(steps)}")
    return tuple(steps)


def describe_duration(ms: int) -> str:
    """12 min 35 s, 3 min, 800 ms: how long a schedule takes, for logs and docs."""
    if ms < 1_000:
        return f"{ms} ms"
    seconds = round(ms / 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    parts.append(f"{seconds} s" if seconds else "")
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class RetryPlan:
    queue_delay_ms: int  # which retry queue (its TTL)
    delay_ms: int  # this message's own wait, jitter applied (never longer than the queue's)


@dataclass(frozen=True)
class RetrySchedules:
    steps: Mapping[Cause, tuple[int, ...]]

    def __post_init__(self) -> None:
        missing = [cause for cause in CAUSES if cause not in self.steps]
        if missing:
            raise ValueError(f"no retry schedule for {', '.join(missing)}")

    @classmethod
    def uniform(cls, delays_ms: tuple[int, ...]) -> RetrySchedules:
        """The same schedule for every cause (tests)."""
        return cls({cause: tuple(delays_ms) for cause in CAUSES})

    def queue_delays(self) -> list[int]:
        """Every distinct delay: one retry queue each."""
        return sorted({delay for steps in self.steps.values() for delay in steps})

    def time_to_park_ms(self, cause: Cause) -> int:
        return sum(self.steps[cause])

    def plan(self, cause: Cause, attempt: int, retry_after: float | None) -> RetryPlan | None:
        """The wait after the `attempt`-th (1-based) failure of this cause; None: park."""
        steps = self.steps[cause]
        if attempt > len(steps):
            return None
        delay = steps[attempt - 1]
        wanted = 0
        if retry_after is not None:
            wanted = round(retry_after * 1000)
            if wanted > delay:
                longer = [d for d in steps if d >= wanted]
                delay = min(longer) if longer else max(steps)
        # Jitter never cuts a wait below what the other side asked for.
        jittered = max(int(delay * random.uniform(0.8, 1.0)), min(wanted, delay))
        return RetryPlan(delay, jittered)


def read_counts(header: str | None) -> dict[str, int]:
    """`"contention=2;rate_limited=1"` → {"contention": 2, "rate_limited": 1}."""
    counts: dict[str, int] = {}
    for part in (header or "").split(";"):
        name, _, value = part.partition("=")
        if name.strip() and value.strip().isdigit():
            counts[name.strip()] = int(value)
    return counts


def write_counts(counts: Mapping[str, int]) -> str:
    return ";".join(f"{name}={count}" for name, count in sorted(counts.items()))
