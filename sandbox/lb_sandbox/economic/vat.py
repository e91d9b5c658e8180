"""VAT as e-conomic computes it: product → product group → the group's sales account for the
invoice's VAT zone → that account's VAT code → the code's rate.

Sources (files in ../shared/reference/, cited by their tags there; docs/sandbox.md has the table):
- The chain: "the product group determines the VAT rate, depending on which account the group
  is linked to" (help.traede.com 4606145746705); `GET /product-groups/{n}/sales-accounts` is one
  `{vatZone, salesAccount{…, vatAccount{vatCode}}}` per zone (schema
  product-groups.productGroupNumber.sales-accounts.get); `GET /vat-accounts` gives `vatCode`
  (≤5), `ratePercentage`, `vatType`, `account`, `barred` (schema vat-accounts.get).
- Draft lines carry no VAT; booked lines return `vatRate` and `vatAmount`, and the server
  computes the totals (schemas invoices.drafts.post, invoices.booked.bookedInvoiceNumber.get;
  EConomic.NET legacy-api-verification).
- An account without a VAT code books 0 % [inferred: traede 4606195939345 books VAT-free lines
  on a group "where every account has no VAT"].
- A product whose group has no sales account for the invoice's zone: e-conomic's answer is not
  documented [unconfirmed]; the sandbox refuses the draft line with a sandbox-only code.
- OSS: no native e-conomic OSS feature is confirmed; integrators create a VAT code per EU
  country at its rate (DE19, SE25 …, traede 4606201381905) and product groups that use them.
  The seed does the same: one OSS group per country whose Domestic-zone account carries the
  country's code, because EU consumers stay in the Domestic zone (the seller charges VAT;
  customers' default `eu_private` zone). Rates: the EU's standard rates in 2025
  (taxation-customs.ec.europa.eu, "VAT rates"), data a bookkeeper would type in.
"""

from __future__ import annotations

from decimal import Decimal

from .state import Agreement, Entity

# VAT types as recorded live (traels-it/economic-rest vat_types.json).
SALES_DOMESTIC = (1, "Outgoing Sales Domestic")
REVERSED_CHARGE = (3, "Reversed charge")

VAT_PAYABLE_ACCOUNT = 8710  # "Salgsmoms", where output VAT is posted
OSS_PAYABLE_ACCOUNT = 8720

# Sales accounts (P&L) and the VAT code each carries; None: no VAT code (0 %).
DOMESTIC_SALES = 1100
EU_BUSINESS_SALES = 1110
ABROAD_SALES = 1120
EXEMPT_SALES = 1130

# Country → standard rate for the OSS codes the seed creates.
OSS_RATES: dict[str, Decimal] = {
    "AT": Decimal("20"), "BE": Decimal("21"), "DE": Decimal("19"), "ES": Decimal("21"),
    "FI": Decimal("25.5"), "FR": Decimal("20"), "IE": Decimal("23"), "IT": Decimal("22"),
    "NL": Decimal("21"), "PL": Decimal("23"), "SE": Decimal("25"),
}  # fmt: skip
OSS_GROUP_BASE = 10  # OSS group of the n-th country (sorted): 10 + n
OSS_ACCOUNT_BASE = 1200


def oss_code(country: str, rate: Decimal) -> str:
    """DE19, FI255: country and rate, at most 5 characters like every VAT code."""
    return f"{country}{rate.normalize():f}".replace(".", "")[:5]


def oss_group_number(country: str) -> int:
    return OSS_GROUP_BASE + sorted(OSS_RATES).index(country)


def _vat_account(
    a: Agreement, code: str, name: str, rate: Decimal, vat_type: tuple[int, str], account: int
) -> Entity:
    return {
        "vatCode": code,
        "name": name[:40],
        "ratePercentage": rate,
        "vatType": {
            "vatTypeNumber": vat_type[0],
            "name": vat_type[1],
            "self": a.link(f"/vat-types/{vat_type[0]}"),
        },
        "account": {"accountNumber": account, "self": a.link(f"/accounts/{account}")},
        "self": a.link(f"/vat-accounts/{code}"),
    }


def _account(
    a: Agreement, number: int, name: str, *, kind: str, vat_code: str | None = None
) -> Entity:
    account: Entity = {
        "accountNumber": number,
        "accountType": kind,
        "name": name,
        "balance": Decimal("0.00"),
        # Sales accounts are credited by default; e-conomic's enum is debit|credit.
        "debitCredit": "credit",
        "self": a.link(f"/accounts/{number}"),
    }
    if vat_code is not None:
        account["vatAccount"] = {"vatCode": vat_code, "self": a.link(f"/vat-accounts/{vat_code}")}
    return account


def seed_vat(a: Agreement) -> None:
    """A Danish webshop's VAT setup: U25 at home, UEUV (EU businesses, reverse charge), ABR
    (abroad), a VAT-free account for the exempt zone, and one OSS code and group per country
    (codes as traede 4606195939345 and 4606201381905 name them)."""
    for number, name in ((VAT_PAYABLE_ACCOUNT, "Salgsmoms"), (OSS_PAYABLE_ACCOUNT, "OSS-moms")):
        a.accounts[number] = _account(a, number, name, kind="status")
    for code, name, rate, vat_type, account in (
        ("U25", "Salgsmoms 25%", Decimal("25"), SALES_DOMESTIC, VAT_PAYABLE_ACCOUNT),
        ("UEUV", "Salg af varer til EU", Decimal("0"), REVERSED_CHARGE, VAT_PAYABLE_ACCOUNT),
        ("ABR", "Salg til udlandet", Decimal("0"), SALES_DOMESTIC, VAT_PAYABLE_ACCOUNT),
    ):
        a.vat_accounts[code] = _vat_account(a, code, name, rate, vat_type, account)
    sales: tuple[tuple[int, str, str | None], ...] = (
        (DOMESTIC_SALES, "Salg af varer m/moms", "U25"),
        (EU_BUSINESS_SALES, "Salg af varer til EU, virksomheder", "UEUV"),
        (ABROAD_SALES, "Salg af varer udland", "ABR"),
        (EXEMPT_SALES, "Salg uden moms", None),
    )
    for number, name, vat_code in sales:
        a.accounts[number] = _account(a, number, name, kind="profitAndLoss", vat_code=vat_code)
    standard = {1: DOMESTIC_SALES, 2: EU_BUSINESS_SALES, 3: ABROAD_SALES, 4: EXEMPT_SALES}
    for number, entity in a.product_groups.items():
        a.sales_accounts[number] = dict(standard)
        entity["salesAccounts"] = a.link(f"/product-groups/{number}/sales-accounts")
    for i, (country, rate) in enumerate(sorted(OSS_RATES.items())):
        code = oss_code(country, rate)
        a.vat_accounts[code] = _vat_account(
            a, code, f"OSS {country} {rate.normalize():f}%", rate, SALES_DOMESTIC,
            OSS_PAYABLE_ACCOUNT,
        )  # fmt: skip
        account = OSS_ACCOUNT_BASE + i
        a.accounts[account] = _account(
            a, account, f"Salg OSS {country}", kind="profitAndLoss", vat_code=code
        )
        group = oss_group_number(country)
        a.product_groups[group] = {
            "productGroupNumber": group,
            "name": f"OSS {country} {rate.normalize():f}%",
            "inventoryEnabled": False,
            # A link, as on e-conomic; the accounts themselves are in a.sales_accounts.
            "salesAccounts": a.link(f"/product-groups/{group}/sales-accounts"),
            "self": a.link(f"/product-groups/{group}"),
        }
        a.sales_accounts[group] = {**standard, 1: account}


def ensure_vat_model(a: Agreement) -> None:
    """A ledger saved before the VAT model existed gets the seed's VAT setup on first use."""
    if not a.vat_accounts:
        seed_vat(a)


class NoSalesAccount(LookupError):
    """The product's group has no sales account for the zone (e-conomic's answer:
    [unconfirmed])."""


def line_vat(a: Agreement, product_number: str, zone: int) -> tuple[Decimal, str | None]:
    """(rate in percent, VAT code) for a line of `product_number` to a recipient in `zone`."""
    ensure_vat_model(a)
    product = a.products[product_number]
    group_number = product["productGroup"]["productGroupNumber"]
    account_number = a.sales_accounts.get(group_number, {}).get(zone)
    if account_number is None or account_number not in a.accounts:
        raise NoSalesAccount(
            f"Product group {group_number} has no sales account for VAT zone {zone}."
        )
    code = (a.accounts[account_number].get("vatAccount") or {}).get("vatCode")
    if code is None:
        return Decimal("0"), None
    return a.vat_accounts[code]["ratePercentage"], code


def sales_accounts_view(a: Agreement, group_number: int) -> list[Entity]:
    """GET /product-groups/{n}/sales-accounts: each zone with the full account embedded."""
    ensure_vat_model(a)
    return [
        {"salesAccount": a.accounts[account], "vatZone": a.vat_zones[zone]}
        for zone, account in sorted(a.sales_accounts.get(group_number, {}).items())
    ]
