"""The VAT rate e-conomic applies to each product in a VAT zone, read from the agreement's
setup: product → product group → the group's sales account for the zone → that account's VAT
code → the code's rate (docs/sandbox.md, "VAT"). Read only when the ledger's VAT for a draft
differs from the shop's, to show line by line where and why (totals_check.py).

`ledger_rate` is a pure function over plain data; `read_ledger_rates` does the reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from lb_connectors.economic.cache import LedgerCache
from lb_connectors.economic.client import EconomicClient
from lb_connectors.economic.setup_models import GroupSalesAccount, VatAccount

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class LedgerRate:
    """How e-conomic taxes a product in a zone."""

    product_number: str
    group: int
    zone: int
    account: int | None  # None: the group has no sales account for the zone
    vat_code: str | None  # None: the account books no VAT
    rate: Decimal | None  # a fraction (0.25); None: not known

    def explain(self) -> str:
        where = f"product {self.product_number} is in product group {self.group}"
        if self.account is None:
            return f"{where}, which has no sales account for VAT zone {self.zone}"
        code = (
            f"VAT code {self.vat_code} ({(self.rate * 100).normalize():f}%)"
            if self.vat_code is not None and self.rate is not None
            else (f"VAT code {self.vat_code} (rate unknown)" if self.vat_code else "no VAT code")
        )
        return f"{where}, whose sales account {self.account} for VAT zone {self.zone} has {code}"


def ledger_rate(
    product_number: str,
    group: int,
    zone: int,
    sales_accounts: Iterable[GroupSalesAccount],
    vat_accounts: Mapping[str, VatAccount],
) -> LedgerRate:
    """The rate for one product of `group` in `zone`. An account without a VAT code books 0 %
    [inferred, docs/sandbox.md]; an unknown code leaves the rate unknown."""
    account = next(
        (s.sales_account for s in sales_accounts if s.vat_zone.vat_zone_number == zone), None
    )
    if account is None:
        return LedgerRate(product_number, group, zone, None, None, None)
    if account.vat_account is None:
        return LedgerRate(product_number, group, zone, account.account_number, None, Decimal(0))
    code = account.vat_account.vat_code
    vat = vat_accounts.get(code)
    rate = vat.rate_percentage / HUNDRED if vat is not None else None
    return LedgerRate(product_number, group, zone, account.account_number, code, rate)


async def read_ledger_rates(
    client: EconomicClient, products: Iterable[str], zone: int
) -> dict[str, LedgerRate]:
    """product number → how e-conomic taxes it in `zone` (products it cannot find are left
    out). Products come from the agreement's cache; groups and VAT codes are read now."""
    cache = LedgerCache.of(client)
    groups: dict[str, int] = {}
    for number in set(products):
        product = await cache.product(client, number)
        if product is not None:
            groups[number] = product.product_group.product_group_number
    if not groups:
        return {}
    vat_accounts = {v.vat_code: v for v in await client.list_vat_accounts()}
    sales = {g: await client.list_sales_accounts(g) for g in sorted(set(groups.values()))}
    return {
        number: ledger_rate(number, group, zone, sales[group], vat_accounts)
        for number, group in groups.items()
    }
