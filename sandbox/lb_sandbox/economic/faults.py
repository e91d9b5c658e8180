"""Faults on demand, for resilience tests and demos.

Kinds: `error` (answer 500/503 instead of running the call), `rate_limit` (answer 429),
`latency` (delay, then run normally) and `lost_reply` (run the call, so the write happens, then
answer 500 as if the reply were lost on the way back). A fault matches a path pattern (fnmatch,
relative to /economic, e.g. `/invoices/*`), optionally a method and an agreement, fires with
probability `rate`, and at most `times` times (unlimited when absent).

Every /economic call is drawn for exactly once, so the registry also counts the calls each
agreement received (refused ones included, as e-conomic counts them): `make chaos` reports
ledger calls per order from it.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FaultKind = Literal["error", "rate_limit", "latency", "lost_reply"]


class FaultSpec(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    kind: FaultKind
    path: str = Field(default="*", description="fnmatch pattern relative to /economic")
    method: str | None = None
    agreement: str | None = Field(default=None, description="grant token; all when absent")
    status: Literal[500, 502, 503, 504] = 503
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    times: int | None = Field(default=None, ge=1)
    latency_ms: int = Field(default=0, ge=0, alias="latencyMs")
    retry_after: int | None = Field(default=None, ge=0, alias="retryAfter")


class Fault(BaseModel):
    id: int
    spec: FaultSpec
    fired: int = 0


class FaultRegistry:
    def __init__(self, *, rng: random.Random | None = None) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._rng = rng or random.Random()
        self.calls: Counter[str] = Counter()

    def add(self, spec: FaultSpec) -> Fault:
        fault = Fault(id=next(self._ids), spec=spec)
        self._faults.append(fault)
        return fault

    def clear(self) -> int:
        count = len(self._faults)
        self._faults.clear()
        return count

    def forget_calls(self, agreement: str | None = None) -> None:
        if agreement is None:
            self.calls.clear()
        else:
            self.calls.pop(agreement, None)

    def all(self) -> list[Fault]:
        return list(self._faults)

    def draw(self, method: str, path: str, agreement: str) -> list[Fault]:
        """The faults that fire for this request (each counted as fired)."""
        self.calls[agreement] += 1
        fired: list[Fault] = []
        for fault in self._faults:
            spec = fault.spec
            if spec.times is not None and fault.fired >= spec.times:
                continue
            if spec.method and spec.method.upper() != method:
                continue
            if spec.agreement and spec.agreement != agreement:
                continue
            if not fnmatch.fnmatchcase(path, spec.path):
                continue
            if spec.rate < 1.0 and self._rng.random() >= spec.rate:
                continue
            fault.fired += 1
            fired.append(fault)
        return fired
