"""The ledger port (see docs/ledger-port.md): `Ledger` (port.py), its neutral models
(models.py) and errors (errors.py), and the registry of ledger kinds (registry.py). Services
import from here; adapters live in their own packages (lb_connectors.economic, ...)."""

from lb_connectors.ledger.errors import (
    LedgerAuthError,
    LedgerError,
    LedgerNotFound,
    LedgerRateLimited,
    LedgerRefused,
    LedgerUnavailable,
    LedgerUnsupported,
    RefusedField,
    ShopField,
    UnknownLedgerKind,
)
from lb_connectors.ledger.models import (
    BookedDocumentLine,
    Choice,
    CustomerDetails,
    CustomerOutcome,
    DocumentLine,
    DocumentRequest,
    LedgerCustomer,
    LedgerDocument,
    MatchKey,
    PaymentRequest,
    PostalAddress,
    ReferenceData,
    RegisteredPayment,
    Resume,
    StockLevel,
)
from lb_connectors.ledger.port import Ledger, OnDraft

__all__ = [
    "BookedDocumentLine",
    "Choice",
    "CustomerDetails",
    "CustomerOutcome",
    "DocumentLine",
    "DocumentRequest",
    "Ledger",
    "LedgerAuthError",
    "LedgerCustomer",
    "LedgerDocument",
    "LedgerError",
    "LedgerNotFound",
    "LedgerRateLimited",
    "LedgerRefused",
    "LedgerUnavailable",
    "LedgerUnsupported",
    "MatchKey",
    "OnDraft",
    "PaymentRequest",
    "PostalAddress",
    "ReferenceData",
    "RefusedField",
    "RegisteredPayment",
    "Resume",
    "ShopField",
    "StockLevel",
    "UnknownLedgerKind",
]
