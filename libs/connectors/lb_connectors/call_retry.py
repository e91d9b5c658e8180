"""Quick retries inside one call to a ledger or shop API, shared by its clients.

A 503 or a dropped connection usually clears within a second; sending such a failure through the
broker's retry queues would run the whole handler again, repeating every lookup before the call
that failed. So a client first tries the same call again a few times (`attempts`), waiting a
doubling backoff with full jitter (or the server's Retry-After when longer), never longer in
total than `budget` seconds. What still fails goes to the caller as a TransientError.

Which calls may be sent again (`may_repeat`):
- a call that never left (connection refused, connect timeout, no connection from the pool) and
  a 429 (the server refused it before running it): always;
- reads (GET, HEAD) and PUT (a full replace: sending it twice leaves the same state): always;
- other writes (POST, DELETE, PATCH) only with an Idempotency-Key, which the server answers from
  its cache when the first try did run. Without one, a timeout, a reset or a 5xx after sending
  may hide a write that happened, so the failure goes up and the handler's own exactly-once
  step (look up by reference before creating) decides.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

from lb_common.settings import CommonSettings

_REPEATABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT"})
# The request was not sent: repeating it cannot duplicate anything.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def may_repeat(method: str, *, idempotent: bool) -> bool:
    """Whether a call that may have reached the server can be sent again."""
    return idempotent or method.upper() in _REPEATABLE_METHODS


@dataclass(frozen=True)
class CallRetry:
    attempts: int = 4
    backoff: float = 0.25  # seconds before the second try; doubles each time
    budget: float = 5.0  # longest total wait between the tries of one call

    def wait_before(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before try `attempt` (2, 3, ...): full jitter, or Retry-After."""
        jittered = random.uniform(0, self.backoff * 2 ** (attempt - 2))
        return max(jittered, retry_after or 0.0)

    def allows(self, attempt: int, waited: float, wait: float) -> bool:
        """Whether try `attempt` may still happen after `waited` seconds and a `wait` more."""
        return attempt <= self.attempts and waited + wait <= self.budget


def call_retry(settings: CommonSettings) -> CallRetry:
    """The deployment's quick-retry settings (`LEDGERBRIDGE_LEDGER_CALL_*`)."""
    return CallRetry(
        attempts=settings.ledger_call_attempts,
        backoff=settings.ledger_call_backoff_ms / 1000,
        budget=settings.ledger_call_budget_ms / 1000,
    )
