"""Typed views of an agreement's setup: VAT codes, product groups' sales accounts per VAT zone,
journals and the company (GET /self). Shapes: e-conomic's schemas vat-accounts.get,
product-groups.productGroupNumber.sales-accounts.get, journals.get, self.get."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from .models import EconomicModel, Linked, VatZoneRef

EntryType = Literal[
    "financeVoucher", "supplierInvoice", "supplierPayment", "customerPayment",
    "manualCustomerInvoice",
]  # fmt: skip


class VatAccount(Linked):
    """A VAT code (U25, UEUV, ABR, an OSS code such as DE19) and its rate in percent."""

    vat_code: str
    name: str | None = None
    rate_percentage: Decimal = Decimal("0")
    barred: bool = False


class VatCodeRef(EconomicModel):
    vat_code: str


class SalesAccountDetail(EconomicModel):
    account_number: int
    name: str | None = None
    vat_account: VatCodeRef | None = None  # none: the account books no VAT


class GroupSalesAccount(EconomicModel):
    """One VAT zone of a product group and the account its sales are booked on."""

    vat_zone: VatZoneRef
    sales_account: SalesAccountDetail


class JournalSettings(EconomicModel):
    entry_type_restricted_to: EntryType | None = None


class Journal(Linked):
    journal_number: int
    name: str | None = None
    settings: JournalSettings | None = None

    def accepts(self, entry_type: EntryType) -> bool:
        only = self.settings.entry_type_restricted_to if self.settings else None
        return only is None or only == entry_type


class Company(EconomicModel):
    name: str | None = None
    company_identification_number: str | None = None  # the CVR number in Denmark


class SelfInfo(EconomicModel):
    agreement_number: int | None = None
    company: Company | None = None
    can_send_electronic_invoice: bool = False  # e-conomic sends booleans only when true
