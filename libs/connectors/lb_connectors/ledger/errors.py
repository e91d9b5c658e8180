"""Ledger failures every adapter raises, mapped onto ledgerbridge's transient/permanent split.

Services catch these, never a vendor's own classes. An adapter may subclass them (e-conomic's
errors do, keeping their own fields); the kind decides what happens to the message:
`LedgerUnavailable` is retried with back-off, `LedgerRateLimited` waits at least `retry_after`,
every other `LedgerError` parks the message with its `reason`, written for a bookkeeper. A
`reason` never carries a token or a secret.
"""

from __future__ import annotations

from dataclasses import dataclass

from lb_common.errors import Cause, LedgerbridgeError, PermanentError, TransientError


@dataclass(frozen=True)
class RefusedField:
    """One field the ledger refused: `path` in the ledger's own terms ("recipient.ean",
    "zip"), `message` the ledger's words."""

    path: str
    message: str


@dataclass(frozen=True)
class ShopField:
    """Where a value sent to a ledger came from in the shop (so a refusal can name it).

    `what` names the detail in a bookkeeper's words ("EAN number", "zip code"), `value` is the
    value as the shop had it, `where` the place on the order ("the order's note attribute
    'EAN'", "the order's billing address").
    """

    what: str
    value: str
    where: str


class LedgerError(LedgerbridgeError):
    """Base of every ledger failure."""

    @property
    def refused_fields(self) -> list[RefusedField]:
        return []


class LedgerUnavailable(LedgerError, TransientError):
    """Network failure, timeout, 5xx: the same call may succeed later (after the adapter's own
    quick retries)."""


class LedgerRateLimited(LedgerUnavailable):
    """The ledger's call budget is used up for now; wait `retry_after` seconds."""

    cause: Cause = "rate_limited"


class LedgerRefused(LedgerError, PermanentError):
    """The ledger refused the content (validation): resending it unchanged cannot help.
    `refused_fields` names the fields when the ledger said which."""


class LedgerAuthError(LedgerError, PermanentError):
    """The connection's grant or token was refused or revoked: a person reconnects it."""


class LedgerNotFound(LedgerError, PermanentError):
    """A write named something that does not exist (a customer, a document, an account)."""


class LedgerUnsupported(LedgerError, PermanentError):
    """The ledger kind cannot do what the settings ask (e.g. an e-invoice channel it lacks)."""


class UnknownLedgerKind(PermanentError):
    """A connection names a ledger kind no adapter is registered for."""
