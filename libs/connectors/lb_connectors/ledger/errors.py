"""Ledger failures every adapter raises, mapped onto ledgerbridge's transient/permanent split.

Services catch these, never a vendor's own classes. An adapter may subclass them (e-conomic's
errors do, keeping their own fields); the kind decides what happens to the message:
`LedgerUnavailable` is retried with back-off, `LedgerRateLimited` waits at least `retry_after`,
every other `LedgerError` parks the message with its `reason`, written for a bookkeeper. A
`reason` never carries a token or a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
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


#: What a bookkeeper does about a value the ledger refused that came from the shop.
SHOP_FIX = "Correct it on the order in the shop, then replay the order."


class LedgerError(LedgerbridgeError):
    """Base of every ledger failure."""

    #: The ledger's name in messages for people ("e-conomic", "QuickBooks").
    ledger_label = "The ledger"

    @property
    def refused_fields(self) -> list[RefusedField]:
        return []

    def blaming(self, sources: Mapping[str, ShopField], *, fix: str = SHOP_FIX) -> LedgerError:
        """This error reworded to name the shop fields the refused values came from; itself
        when the ledger refused none of them. `sources` is keyed by `CustomerDetails`' names
        ("email", "phone", "vat_id", "ean", "number", "billing.lines", "billing.zip",
        "billing.city", "billing.country", or a custom field's ledger name); an adapter maps
        its own paths onto them (`shop_path`)."""
        by_path = {self.shop_path(name): source for name, source in sources.items()}
        found = self.refused_fields
        blamed = [(f, by_path[f.path]) for f in found if f.path in by_path]
        if not blamed:
            return self
        parts = [
            f"{self.ledger_label} refused the {src.what} '{src.value}' from {src.where}: "
            f"{f.message.rstrip('. ')}."
            for f, src in blamed
        ]
        others = [f"{f.path}: {f.message}" for f in found if f.path not in by_path]
        if others:
            parts.append(f"{self.ledger_label} also said: {'; '.join(others)}.")
        return self.reworded(" ".join([*parts, fix]))

    def shop_path(self, name: str) -> str:
        """The ledger's path for a `CustomerDetails` field name (see `blaming`)."""
        return name

    def reworded(self, reason: str) -> LedgerError:
        """The same error with another reason (an adapter keeps its own fields)."""
        error = LedgerRefused(reason) if isinstance(self, LedgerRefused) else LedgerError(reason)
        return error.with_traceback(self.__traceback__)


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
