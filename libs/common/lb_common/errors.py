"""Two kinds of failure, decided where the failure is understood, routed by the messaging layer.

- TransientError: try again later. Its `cause` picks the retry schedule (see `retry.py`):
  - `contention`: another worker holds what we need (a claim, a row being written, an invoice
    not booked yet). It clears in seconds, so retry quickly on short flat delays.
  - `ledger_unavailable`: the ledger or the network failed (5xx, timeout, connection refused)
    even after the client's own quick retries. Back off: an outage lasts minutes.
  - `rate_limited`: the ledger refused the call for the agreement's budget (429); waits at least
    `retry_after`.
  - `unexpected`: an exception nobody classified (a bug, the database gone): a few retries, then
    park so a person looks at it.
- PermanentError: retrying cannot help (validation, unknown SKU, missing setting). The message is
  parked at once and the order's timeline shows `reason`, written for a bookkeeper.
"""

from __future__ import annotations

from typing import Literal, get_args

Cause = Literal["contention", "ledger_unavailable", "rate_limited", "unexpected"]
CAUSES: tuple[Cause, ...] = get_args(Cause)


class LedgerbridgeError(Exception):
    def __init__(self, reason: str, *, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class TransientError(LedgerbridgeError):
    # A subclass states its cause once; a raise site may still name another.
    cause: Cause = "ledger_unavailable"

    def __init__(
        self,
        reason: str,
        *,
        detail: str | None = None,
        retry_after: float | None = None,
        cause: Cause | None = None,
    ) -> None:
        super().__init__(reason, detail=detail)
        self.retry_after = retry_after
        if cause is not None:
            self.cause = cause


class Contention(TransientError):
    """Another worker holds what this one needs; it will be free in seconds."""

    cause: Cause = "contention"


class PermanentError(LedgerbridgeError):
    pass
