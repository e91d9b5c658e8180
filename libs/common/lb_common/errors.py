"""Two kinds of failure, decided where the failure is understood, routed by the messaging layer.

- TransientError: try again later (network, 5xx, 429). Goes through the delayed-retry path.
- PermanentError: retrying cannot help (validation, unknown SKU, missing setting). The message is
  parked at once and the order's timeline shows `reason`, written for a bookkeeper.
"""

from __future__ import annotations


class LedgerbridgeError(Exception):
    def __init__(self, reason: str, *, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class TransientError(LedgerbridgeError):
    def __init__(
        self, reason: str, *, detail: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason, detail=detail)
        self.retry_after = retry_after


class PermanentError(LedgerbridgeError):
    pass
