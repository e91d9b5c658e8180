"""QuickBooks Online: OAuth 2.0 tokens kept per connection, the Accounting API v3 client, and
the use cases a ledger needs (books.py). See docs/ledger-port.md, "QuickBooks"."""

from .books import QuickBooksBooks, SalesLine, address, discount_line
from .client import MINOR_VERSION, PRODUCTION_URL, SANDBOX_URL, QuickBooksClient
from .errors import (
    QuickBooksAuthError,
    QuickBooksDuplicateName,
    QuickBooksError,
    QuickBooksNotFound,
    QuickBooksRateLimited,
    QuickBooksStale,
    QuickBooksUnavailable,
    QuickBooksValidationError,
)
from .oauth import OAuthApp, TokenSet, exchange_code
from .pacer import RealmPacer
from .query import Select, quote
from .token_keeper import TokenKeeper
from .token_vault import QuickBooksTokenRow, StoredTokens, TokenVault

__all__ = [
    "MINOR_VERSION",
    "PRODUCTION_URL",
    "SANDBOX_URL",
    "OAuthApp",
    "QuickBooksAuthError",
    "QuickBooksBooks",
    "QuickBooksClient",
    "QuickBooksDuplicateName",
    "QuickBooksError",
    "QuickBooksNotFound",
    "QuickBooksRateLimited",
    "QuickBooksStale",
    "QuickBooksTokenRow",
    "QuickBooksUnavailable",
    "QuickBooksValidationError",
    "RealmPacer",
    "SalesLine",
    "Select",
    "StoredTokens",
    "TokenKeeper",
    "TokenSet",
    "TokenVault",
    "address",
    "discount_line",
    "exchange_code",
    "quote",
]
