"""Typed views of e-conomic's JSON documents.

Python attributes are snake_case; the wire names are e-conomic's camelCase (aliases), so
`model_dump(by_alias=True)` produces exactly what e-conomic documents. Amounts are Decimal.
Responses carry many more properties than modelled here; unknown ones are ignored.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


def _as_utc(value: dt.datetime) -> dt.datetime:
    # e-conomic's timestamps are UTC ("...Z"); a bare value is read as UTC rather than local.
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


UtcDatetime = Annotated[dt.datetime, AfterValidator(_as_utc)]


class EconomicModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_json_body(self) -> dict[str, Any]:
        """The request body: camelCase, no nulls (e-conomic refuses null; omit to clear).

        Python mode on purpose: JSON mode would turn Decimal into a string, while e-conomic
        wants a JSON number; `jsoncodec.dumps` writes Decimal and dates exactly.
        """
        return self.model_dump(mode="python", by_alias=True, exclude_none=True)


class Linked(EconomicModel):
    self_link: str | None = Field(default=None, alias="self")


# --- references -----------------------------------------------------------------------------


class CustomerGroupRef(EconomicModel):
    customer_group_number: int


class PaymentTermsRef(EconomicModel):
    payment_terms_number: int
    # Read-only details e-conomic adds in responses.
    name: str | None = None
    days_of_credit: int | None = None
    payment_terms_type: str | None = None

    def to_ref(self) -> PaymentTermsRef:
        return PaymentTermsRef(payment_terms_number=self.payment_terms_number)


class VatZoneRef(EconomicModel):
    vat_zone_number: int


class LayoutRef(EconomicModel):
    layout_number: int


class CustomerRef(EconomicModel):
    customer_number: int


class ProductGroupRef(EconomicModel):
    product_group_number: int
    name: str | None = None
    inventory_enabled: bool | None = None


class ProductRef(EconomicModel):
    product_number: str


class UnitRef(EconomicModel):
    unit_number: int


class ContactRef(EconomicModel):
    customer_contact_number: int


class EmployeeRef(EconomicModel):
    employee_number: int


# --- reference data -------------------------------------------------------------------------


class CustomerGroup(Linked):
    customer_group_number: int
    name: str
    layout: LayoutRef | None = None


class PaymentTerms(Linked):
    payment_terms_number: int
    name: str
    days_of_credit: int | None = None
    payment_terms_type: str | None = None
    description: str | None = None


class VatZone(Linked):
    vat_zone_number: int
    name: str
    # e-conomic only sends booleans that are true.
    enabled_for_customer: bool = False
    enabled_for_supplier: bool = False


class Layout(Linked):
    layout_number: int
    name: str
    deleted: bool = False


class Currency(Linked):
    code: str
    name: str | None = None
    iso_number: str | None = None


# --- customers ------------------------------------------------------------------------------


class CustomerCreate(EconomicModel):
    """Body of POST /customers and PUT /customers/{n} (PUT replaces: omitted fields are cleared)."""

    name: str
    currency: str
    customer_group: CustomerGroupRef
    payment_terms: PaymentTermsRef
    vat_zone: VatZoneRef
    customer_number: int | None = None
    address: str | None = None
    zip: str | None = None
    city: str | None = None
    country: str | None = None
    email: str | None = None
    telephone_and_fax_number: str | None = None
    mobile_phone: str | None = None
    website: str | None = None
    corporate_identification_number: str | None = None
    p_number: str | None = None
    ean: str | None = None
    public_entry_number: str | None = None
    vat_number: str | None = None
    layout: LayoutRef | None = None
    barred: bool | None = None
    credit_limit: Decimal | None = None

    def to_json_body(self) -> dict[str, Any]:
        body = super().to_json_body()
        body["paymentTerms"] = self.payment_terms.to_ref().to_json_body()
        return body


class Customer(CustomerCreate):
    # What is not modelled is kept as read (camelCase, in `model_extra`), so an update can send
    # it back: a PUT replaces the whole customer (see `customer_update_body`).
    model_config = ConfigDict(extra="allow")

    customer_number: int  # always present in responses
    balance: Decimal | None = None
    due_amount: Decimal | None = None
    last_updated: UtcDatetime | None = None
    self_link: str | None = Field(default=None, alias="self")

    def to_create(self) -> CustomerCreate:
        """The writable part, e.g. to PUT it back with a change."""
        data = self.model_dump(include=set(CustomerCreate.model_fields), exclude_none=True)
        return CustomerCreate.model_validate(data)


# The properties a customer PUT writes (schema customers.customerNo.put.schema.json, less the
# read-only `balance`); anything else a GET returns (links, totals, lastUpdated) is read-only.
CUSTOMER_WRITABLE = frozenset({
    "address", "attention", "barred", "city", "corporateIdentificationNumber", "country",
    "creditLimit", "currency", "customerContact", "customerGroup", "customerNumber",
    "defaultDeliveryLocation", "eInvoicingDisabledByDefault", "ean", "email", "layout",
    "mobilePhone", "name", "pNumber", "paymentTerms", "priceGroup", "publicEntryNumber",
    "salesPerson", "telephoneAndFaxNumber", "vatNumber", "vatZone", "website", "zip",
})  # fmt: skip


def customer_update_body(customer: Customer, changes: dict[str, Any]) -> dict[str, Any]:
    """The PUT body for `customer` as read, with `changes` on top (names in snake_case or
    e-conomic's camelCase; None clears). Every writable field not changed goes back as read,
    the ones this model leaves out included (a bookkeeper's attention, customerContact,
    salesPerson, priceGroup, defaultDeliveryLocation, ...): e-conomic clears what a PUT omits."""
    record = customer.model_dump(mode="python", by_alias=True, exclude_none=True)
    body = {k: v for k, v in record.items() if k in CUSTOMER_WRITABLE}
    body["paymentTerms"] = customer.payment_terms.to_ref().to_json_body()
    for name, value in changes.items():
        key = to_camel(name)
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    body["customerNumber"] = customer.customer_number
    return body


class ContactCreate(EconomicModel):
    """Body of POST /customers/{n}/contacts: a person at the customer (the buyer's reference)."""

    name: str
    email: str | None = None
    phone: str | None = None
    e_invoice_id: str | None = None
    notes: str | None = None


class Contact(ContactCreate):
    customer_contact_number: int


class DeliveryLocationCreate(EconomicModel):
    """Body of POST /customers/{n}/delivery-locations (a shipping address of the customer)."""

    address: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None
    terms_of_delivery: str | None = None


class DeliveryLocation(DeliveryLocationCreate):
    delivery_location_number: int
    barred: bool = False


# --- products -------------------------------------------------------------------------------


class Inventory(EconomicModel):
    available: Decimal | None = None
    in_stock: Decimal | None = None
    ordered_by_customers: Decimal | None = None
    ordered_from_suppliers: Decimal | None = None
    inventory_last_updated: UtcDatetime | None = None


class ProductCreate(EconomicModel):
    product_number: str
    name: str
    product_group: ProductGroupRef
    description: str | None = None
    sales_price: Decimal | None = None
    cost_price: Decimal | None = None
    recommended_price: Decimal | None = None
    bar_code: str | None = None
    barred: bool | None = None
    unit: UnitRef | None = None

    def to_json_body(self) -> dict[str, Any]:
        body = super().to_json_body()
        body["productGroup"] = {"productGroupNumber": self.product_group.product_group_number}
        return body


class Product(ProductCreate):
    barred: bool = False  # absent in responses means false
    inventory: Inventory | None = None
    last_updated: UtcDatetime | None = None
    self_link: str | None = Field(default=None, alias="self")


# --- invoices -------------------------------------------------------------------------------


class Recipient(EconomicModel):
    name: str
    vat_zone: VatZoneRef
    address: str | None = None
    zip: str | None = None
    city: str | None = None
    country: str | None = None
    ean: str | None = None
    public_entry_number: str | None = None
    attention: ContactRef | None = None
    mobile_phone: str | None = None
    nem_handel_type: str | None = None


class Delivery(EconomicModel):
    address: str | None = None
    zip: str | None = None
    city: str | None = None
    country: str | None = None
    delivery_terms: str | None = None
    delivery_date: dt.date | None = None


class Notes(EconomicModel):
    heading: str | None = None
    text_line1: str | None = None
    text_line2: str | None = None


class References(EconomicModel):
    other: str | None = None
    customer_contact: ContactRef | None = None
    sales_person: EmployeeRef | None = None
    vendor_reference: EmployeeRef | None = None


class InvoiceLine(EconomicModel):
    line_number: int | None = None
    sort_key: int | None = None
    description: str | None = None
    product: ProductRef | None = None
    quantity: Decimal | None = None
    unit_net_price: Decimal | None = None
    discount_percentage: Decimal | None = None
    unit_cost_price: Decimal | None = None
    unit: UnitRef | None = None


class DraftInvoiceCreate(EconomicModel):
    """Body of POST /invoices/drafts. Totals are computed by e-conomic, so they are absent here."""

    date: dt.date
    currency: str
    customer: CustomerRef
    layout: LayoutRef
    payment_terms: PaymentTermsRef
    recipient: Recipient
    exchange_rate: Decimal | None = None
    due_date: dt.date | None = None
    delivery: Delivery | None = None
    notes: Notes | None = None
    references: References | None = None
    lines: list[InvoiceLine] = Field(default_factory=list)

    def to_json_body(self) -> dict[str, Any]:
        body = super().to_json_body()
        body["paymentTerms"] = self.payment_terms.to_ref().to_json_body()
        if not self.lines:
            body.pop("lines", None)
        return body


class DraftInvoice(DraftInvoiceCreate):
    draft_invoice_number: int
    net_amount: Decimal | None = None
    vat_amount: Decimal | None = None
    gross_amount: Decimal | None = None
    last_updated: UtcDatetime | None = None
    self_link: str | None = Field(default=None, alias="self")


class BookedInvoiceLine(InvoiceLine):
    vat_rate: Decimal | None = None
    vat_amount: Decimal | None = None
    total_net_amount: Decimal | None = None


class BookedInvoice(Linked):
    booked_invoice_number: int
    date: dt.date
    currency: str
    customer: CustomerRef
    order_number: int | None = None
    net_amount: Decimal
    vat_amount: Decimal
    gross_amount: Decimal
    rounding_amount: Decimal | None = None
    remainder: Decimal | None = None
    exchange_rate: Decimal | None = None
    due_date: dt.date | None = None
    payment_terms: PaymentTermsRef | None = None
    layout: LayoutRef | None = None
    recipient: Recipient | None = None
    delivery: Delivery | None = None
    notes: Notes | None = None
    references: References | None = None
    lines: list[BookedInvoiceLine] = Field(default_factory=list)


class BookInvoiceRequest(EconomicModel):
    """Body of POST /invoices/booked."""

    class DraftRef(EconomicModel):
        draft_invoice_number: int

    draft_invoice: DraftRef
    book_with_number: int | None = None
    send_by: str | None = None


# --- journals and vouchers ------------------------------------------------------------------


class AccountRef(EconomicModel):
    account_number: int


class VatAccountRef(EconomicModel):
    vat_code: str


class CurrencyCodeRef(EconomicModel):
    code: str


class JournalRef(EconomicModel):
    journal_number: int


class AccountingYearRef(EconomicModel):
    year: str  # a string key in e-conomic, e.g. "2026"


class FinanceVoucher(EconomicModel):
    """One finance entry; a positive amount debits `account` and credits `contra_account`."""

    date: dt.date
    amount: Decimal
    account: AccountRef | None = None
    contra_account: AccountRef | None = None
    currency: CurrencyCodeRef | None = None
    text: str | None = None
    exchange_rate: Decimal | None = None
    amount_base_currency: Decimal | None = None
    vat_account: VatAccountRef | None = None
    contra_vat_account: VatAccountRef | None = None
    journal_entry_number: int | None = None  # set by e-conomic in responses


class CustomerPaymentEntry(EconomicModel):
    """A payment from a customer: a minus amount credits `customer`; the money is debited to
    `contra_account` (the bank, or a suspense account). `customer_invoice` settles that invoice."""

    date: dt.date
    amount: Decimal
    customer: CustomerRef | None = None
    contra_account: AccountRef | None = None
    currency: CurrencyCodeRef | None = None
    text: str | None = None
    customer_invoice: int | None = None
    exchange_rate: Decimal | None = None
    amount_base_currency: Decimal | None = None
    contra_vat_account: VatAccountRef | None = None
    contra_vat_amount: Decimal | None = None
    journal_entry_number: int | None = None  # set by e-conomic in responses


class VoucherEntries(EconomicModel):
    finance_vouchers: list[FinanceVoucher] = Field(default_factory=list)
    customer_payments: list[CustomerPaymentEntry] = Field(default_factory=list)


class VoucherCreate(EconomicModel):
    """Body of POST /journals/{n}/vouchers."""

    accounting_year: AccountingYearRef
    entries: VoucherEntries
    journal: JournalRef | None = None
    voucher_number: int | None = None


class Voucher(VoucherCreate):
    voucher_number: int
    self_link: str | None = Field(default=None, alias="self")


class VoucherRef(EconomicModel):
    voucher_number: int
    accounting_year: AccountingYearRef | None = None


class JournalEntry(EconomicModel):
    """An entry in a journal, not booked yet (GET /journals/{n}/entries, schema
    journals.journalNumber.entries.get): how an entry whose reply was lost is found again."""

    journal_entry_number: int
    date: dt.date
    amount: Decimal
    text: str | None = None
    customer: CustomerRef | None = None
    customer_invoice: int | None = None
    contra_account: AccountRef | None = None
    currency: CurrencyCodeRef | None = None
    voucher: VoucherRef | None = None
