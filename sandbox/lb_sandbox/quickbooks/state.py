"""QuickBooks companies (realms) and the OAuth grants that reach them, in memory.

A company starts with the reference data a new QuickBooks company has that the connector reads:
income, asset, discount, bank and Undeposited Funds accounts, and tax codes. Ids are strings of
digits per entity, as QuickBooks gives them.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .faults import qbo_time

UNDEPOSITED_FUNDS = "4"

# Entities with a DisplayName that must be unique across all of them (Customer/Vendor/Employee).
NAME_LIST = ("Customer", "Vendor", "Employee")


def _seed_accounts() -> dict[str, dict[str, Any]]:
    rows = [
        ("1", "Sales of Product Income", "Income", "SalesOfProductIncome"),
        ("2", "Inventory Asset", "Other Current Asset", "Inventory"),
        ("3", "Discounts given", "Income", "DiscountsRefundsGiven"),
        (UNDEPOSITED_FUNDS, "Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
        ("5", "Checking", "Bank", "Checking"),
        ("6", "Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
        ("7", "Services", "Income", "ServiceFeeIncome"),
    ]
    return {
        ident: {
            "Id": ident,
            "Name": name,
            "AccountType": kind,
            "AccountSubType": sub,
            "Active": True,
            "SyncToken": "0",
            "MetaData": {"CreateTime": qbo_time(), "LastUpdatedTime": qbo_time()},
        }
        for ident, name, kind, sub in rows
    }


def _seed_tax_codes() -> dict[str, dict[str, Any]]:
    # A non-US company's codes (TaxInclusive/TaxExcluded apply there); `_rate` is sandbox-only
    # bookkeeping, never sent.
    rows = [("2", "25.0% S", "Standard rate", Decimal("25")), ("3", "0.0% Z", "Zero", Decimal(0))]
    return {
        ident: {
            "Id": ident,
            "Name": name,
            "Description": desc,
            "Active": True,
            "Taxable": rate > 0,
            "SyncToken": "0",
            "_rate": rate,
        }
        for ident, name, desc, rate in rows
    }


@dataclass
class Company:
    realm_id: str
    name: str = "Sandbox Company"
    # Preferences.CurrencyPrefs: the home currency; multicurrency off, as a new company starts.
    home_currency: str = "USD"
    multicurrency: bool = False
    entities: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    ids: dict[str, itertools.count[int]] = field(default_factory=dict)
    # requestid → the original (status, body): a repeat is answered from here, nothing re-runs.
    replies: dict[str, tuple[int, Any]] = field(default_factory=dict)
    recent: deque[float] = field(default_factory=deque)  # monotonic times, last minute
    in_flight: int = 0
    calls: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.entities.setdefault("Account", _seed_accounts())
        self.entities.setdefault("TaxCode", _seed_tax_codes())
        for name in ("Customer", "Vendor", "Employee", "Item", "Invoice", "Payment"):
            self.entities.setdefault(name, {})
        for name in ("CreditMemo", "RefundReceipt"):
            self.entities.setdefault(name, {})

    def table(self, entity: str) -> dict[str, dict[str, Any]]:
        return self.entities.setdefault(entity, {})

    def next_id(self, entity: str) -> str:
        counter = self.ids.get(entity)
        if counter is None:
            start = max((int(i) for i in self.table(entity) if i.isdigit()), default=0) + 1
            counter = self.ids[entity] = itertools.count(start)
        return str(next(counter))

    def snapshot(self) -> dict[str, Any]:
        return {
            "realmId": self.realm_id,
            "entities": {
                name: [
                    {k: v for k, v in row.items() if not k.startswith("_")} for row in rows.values()
                ]
                for name, rows in self.entities.items()
            },
        }


@dataclass
class AccessToken:
    realm_id: str
    expires_at: float


@dataclass
class RefreshToken:
    realm_id: str
    client_id: str
    expires_at: float


@dataclass
class QuickBooksWorld:
    """Companies, the app's authorization codes and both kinds of token."""

    access_seconds: float = 3600.0
    refresh_seconds: float = 100 * 86400.0
    companies: dict[str, Company] = field(default_factory=dict)
    codes: dict[str, tuple[str, str, str]] = field(
        default_factory=dict
    )  # code → realm, client, uri
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    # Realm ids as QuickBooks shows them (16 digits), from a random start: two sandboxes (e.g.
    # two tests in one process) never hand out the same company id, nor share a client's pacer.
    realm_ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(9130350000000000 + secrets.randbelow(10**9) * 1000)
    )

    def company(self, realm_id: str) -> Company | None:
        return self.companies.get(realm_id)

    def new_company(self, name: str = "Sandbox Company") -> Company:
        realm = str(next(self.realm_ids))
        company = self.companies[realm] = Company(realm, name)
        return company

    def issue(self, realm_id: str, client_id: str) -> dict[str, Any]:
        """A new access and refresh token pair (the body of the token endpoint's answer)."""
        now = time.time()
        access = "sbx-at-" + secrets.token_urlsafe(24)
        refresh = "sbx-rt-" + secrets.token_urlsafe(24)
        self.access[access] = AccessToken(realm_id, now + self.access_seconds)
        self.refresh[refresh] = RefreshToken(realm_id, client_id, now + self.refresh_seconds)
        return {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": int(self.access_seconds),
            "x_refresh_token_expires_in": int(self.refresh_seconds),
        }

    def expire_access_tokens(self, realm_id: str) -> int:
        expired = 0
        for token in self.access.values():
            if token.realm_id == realm_id:
                token.expires_at = 0.0
                expired += 1
        return expired
