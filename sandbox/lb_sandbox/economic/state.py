"""In-memory agreements. Each distinct X-AgreementGrantToken is one isolated, seeded agreement.

Handlers mutate state without awaiting in between, so each request's read-check-write runs
atomically on the event loop and no locks are needed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .idempotency import IdempotencyCache
from .ratelimit import TokenBucket

Entity = dict[str, Any]


def now_utc_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Agreement:
    grant_token: str
    # Links are absolute, like e-conomic's, and use the address the agreement was first reached at.
    base_url: str
    bucket: TokenBucket
    idempotency: IdempotencyCache
    customers: dict[int, Entity] = field(default_factory=dict)
    customer_groups: dict[int, Entity] = field(default_factory=dict)
    payment_terms: dict[int, Entity] = field(default_factory=dict)
    vat_zones: dict[int, Entity] = field(default_factory=dict)
    layouts: dict[int, Entity] = field(default_factory=dict)
    currencies: dict[str, Entity] = field(default_factory=dict)
    product_groups: dict[int, Entity] = field(default_factory=dict)
    # VAT (vat.py): code → VAT account; product group → VAT zone → sales account number.
    vat_accounts: dict[str, Entity] = field(default_factory=dict)
    sales_accounts: dict[int, dict[int, int]] = field(default_factory=dict)
    # GET /self's company (its CVR is an EAN invoice's precondition, einvoice.py).
    company: Entity = field(default_factory=dict)
    products: dict[str, Entity] = field(default_factory=dict)
    drafts: dict[int, Entity] = field(default_factory=dict)
    booked: dict[int, Entity] = field(default_factory=dict)
    accounts: dict[int, Entity] = field(default_factory=dict)
    journals: dict[int, Entity] = field(default_factory=dict)
    vouchers: list[Entity] = field(default_factory=list)
    # `year` key ("2026", "2025/2026") → accounting year (accounting_years.py).
    accounting_years: dict[str, Entity] = field(default_factory=dict)
    # Customer number → contact number → contact (reference persons).
    contacts: dict[int, dict[int, Entity]] = field(default_factory=dict)
    # Customer number → delivery location number → location.
    delivery_locations: dict[int, dict[int, Entity]] = field(default_factory=dict)
    # Invoices sent electronically when booked with sendBy (GET /invoices/sent).
    sent: list[Entity] = field(default_factory=list)
    next_draft_number: int = 1
    next_voucher_number: int = 1
    next_entry_number: int = 1
    # Draft number → booked invoice number, to explain a second booking of the same draft.
    booked_drafts: dict[int, int] = field(default_factory=dict)
    # "METHOD /path/{template}" → calls answered, refusals included (they cost the caller a call).
    calls: Counter[str] = field(default_factory=Counter)

    def link(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def snapshot(self) -> dict[str, Any]:
        return {
            "grantToken": self.grant_token,
            "customers": list(self.customers.values()),
            "drafts": list(self.drafts.values()),
            "booked_invoices": list(self.booked.values()),
            "products": list(self.products.values()),
            "vouchers": list(self.vouchers),
            "sent_invoices": list(self.sent),
        }


class AgreementRegistry:
    def __init__(
        self,
        *,
        rate_limit_tokens: int = 10000,
        rate_limit_window_seconds: float = 60.0,
        idempotency_ttl_seconds: float = 3600.0,
    ) -> None:
        self._agreements: dict[str, Agreement] = {}
        # Grant token → the secret token of the app it was granted to (the grant flow's tokens;
        # other tokens are accepted with any app secret, so tests can make agreements at will).
        self._grants: dict[str, str] = {}
        self._limit = rate_limit_tokens
        self._window = rate_limit_window_seconds
        self._ttl = idempotency_ttl_seconds

    def get_or_create(self, grant_token: str, base_url: str) -> Agreement:
        agreement = self._agreements.get(grant_token)
        if agreement is None:
            from .reference_data import seed  # local: reference_data imports Agreement

            agreement = self.restore(grant_token, {"base_url": base_url})
            seed(agreement)
        return agreement

    def restore(self, grant_token: str, records: dict[str, Any]) -> Agreement:
        """An agreement with the given records (a saved one, or a new one before its seed),
        and a fresh rate-limit bucket and Idempotency-Key cache."""
        agreement = Agreement(
            **{**records, "grant_token": grant_token},
            bucket=TokenBucket(self._limit, self._window),
            idempotency=IdempotencyCache(self._ttl),
        )
        self._agreements[grant_token] = agreement
        return agreement

    def alias(self, grant_token: str, existing: str) -> Agreement:
        """A second grant token for an existing agreement (it granted another app, or again)."""
        agreement = self._agreements[existing]
        self._agreements[grant_token] = agreement
        return agreement

    def grant(self, grant_token: str, app_secret_token: str) -> None:
        self._grants[grant_token] = app_secret_token

    def app_allowed(self, grant_token: str, app_secret_token: str) -> bool:
        granted_to = self._grants.get(grant_token)
        return granted_to is None or granted_to == app_secret_token

    def all(self) -> list[Agreement]:
        return list({id(a): a for a in self._agreements.values()}.values())

    def find(self, grant_token: str) -> Agreement | None:
        return self._agreements.get(grant_token)

    def reset(self, grant_token: str | None = None) -> int:
        if grant_token is None:
            count = len(self._agreements)
            self._agreements.clear()
            return count
        return 1 if self._agreements.pop(grant_token, None) is not None else 0
