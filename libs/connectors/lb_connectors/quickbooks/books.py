"""The use cases a ledger needs, in QuickBooks' terms, over one company's client: customers by
e-mail with the DisplayName rule, items by SKU, sales documents made exactly once (invoice,
credit memo, refund receipt), payments into Undeposited Funds, and the reference data a
bookkeeper picks settings from. Field names of QuickBooks stay in this package."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from . import names
from .client import QuickBooksClient
from .errors import QuickBooksDuplicateName, QuickBooksValidationError
from .exactly_once import doc_number, private_note, request_id
from .query import Select

CENT = Decimal("0.01")
TaxMode = Literal["TaxInclusive", "TaxExcluded", "NotApplicable"]
SKU_CHUNK = 100


@dataclass(frozen=True)
class SalesLine:
    item_id: str
    quantity: Decimal
    unit_price: Decimal
    description: str = ""
    tax_code: str | None = None

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(CENT, ROUND_HALF_UP)

    def body(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "ItemRef": {"value": self.item_id},
            "Qty": self.quantity,
            "UnitPrice": self.unit_price,
        }
        if self.tax_code is not None:
            detail["TaxCodeRef"] = {"value": self.tax_code}
        line: dict[str, Any] = {
            "DetailType": "SalesItemLineDetail",
            "Amount": self.amount,
            "SalesItemLineDetail": detail,
        }
        if self.description:
            line["Description"] = self.description[:4000]
        return line


def discount_line(amount: Decimal) -> dict[str, Any]:
    return {
        "DetailType": "DiscountLineDetail",
        "Amount": amount.quantize(CENT, ROUND_HALF_UP),
        "DiscountLineDetail": {"PercentBased": False},
    }


def address(
    lines: Sequence[str], city: str, region: str, postal_code: str, country: str
) -> dict[str, Any]:
    """A BillAddr/ShipAddr (Line1-5, City, CountrySubDivisionCode, PostalCode, Country)."""
    body: dict[str, Any] = {f"Line{i}": text for i, text in enumerate(lines[:5], start=1) if text}
    for key, value in (
        ("City", city),
        ("CountrySubDivisionCode", region),
        ("PostalCode", postal_code),
        ("Country", country),
    ):
        if value:
            body[key] = value
    return body


class QuickBooksBooks:
    def __init__(self, client: QuickBooksClient) -> None:
        self.client = client
        self.realm_id = client.realm_id

    # --- customers ------------------------------------------------------------------------

    async def customer_by_email(self, email: str) -> dict[str, Any] | None:
        rows = await self.client.query(
            Select("Customer").where("PrimaryEmailAddr", "=", email), limit=1
        )
        return rows[0] if rows else None

    async def customer_by_name(self, display_name: str) -> dict[str, Any] | None:
        rows = await self.client.query(
            Select("Customer").where("DisplayName", "=", display_name), limit=1
        )
        return rows[0] if rows else None

    async def customer(self, ident: str) -> dict[str, Any] | None:
        return await self.client.read("Customer", ident)

    async def create_customer(
        self, name: str, match_key: str, fields: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A new customer named by the DisplayName rule (names.py). A clash with a customer
        that already has this match key as its e-mail is that customer (made by an earlier try
        whose reply was lost), not a reason to make another."""
        for candidate in names.candidates(name, match_key):
            body = {**fields, "DisplayName": candidate}
            try:
                return await self.client.create(
                    "Customer",
                    body,
                    request_id=request_id(self.realm_id, "customer", f"{match_key}\x00{candidate}"),
                )
            except QuickBooksDuplicateName:
                holder = await self.customer_by_name(candidate)
                email = ((holder or {}).get("PrimaryEmailAddr") or {}).get("Address", "")
                if holder is not None and email.lower() == match_key.lower():
                    return holder
        raise QuickBooksValidationError(
            f"QuickBooks has no free customer name for '{name}' ({match_key}): every name the "
            "rule tries is used by another customer, vendor or employee; rename one of them in "
            "QuickBooks, then replay the order"
        )

    async def update_customer(
        self, ident: str, fields: Mapping[str, Any], *, reason: str
    ) -> dict[str, Any]:
        """Sparse update (e.g. BillAddr/ShipAddr from a new order); `reason` keys the requestid."""
        return await self.client.update_fields(
            "Customer",
            ident,
            fields,
            request_id=request_id(self.realm_id, "customer-update", reason),
        )

    # --- items and reference data -----------------------------------------------------------

    async def items_by_sku(self, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted(set(skus))
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(wanted), SKU_CHUNK):
            chunk = wanted[i : i + SKU_CHUNK]
            for row in await self.client.query(Select("Item", ("Sku",)).where("Sku", "IN", chunk)):
                if row.get("Sku") in chunk:
                    found[row["Sku"]] = row
        return found

    async def items(self) -> list[dict[str, Any]]:
        """Every item, with its SKU (QuickBooks leaves Sku out unless asked)."""
        return await self.client.query(Select("Item", ("Sku",)))

    async def accounts(self) -> list[dict[str, Any]]:
        return await self.client.query(Select("Account"))

    async def tax_codes(self) -> list[dict[str, Any]]:
        return await self.client.query(Select("TaxCode"))

    # --- documents ----------------------------------------------------------------------

    async def find_document(self, entity: str, kind: str, reference: str) -> dict[str, Any] | None:
        """The document made for our `reference`, found by DocNumber and confirmed by note."""
        note = private_note(kind, reference)
        number = doc_number(reference)
        for row in await self.client.query(Select(entity).where("DocNumber", "=", number)):
            if row.get("PrivateNote") == note:
                return row
        return None

    async def make_document(
        self,
        entity: Literal["Invoice", "CreditMemo", "RefundReceipt"],
        kind: str,
        reference: str,
        customer_id: str,
        lines: Sequence[Mapping[str, Any]],
        *,
        tax_mode: TaxMode,
        extra: Mapping[str, Any] | None = None,
        look_up: bool = True,
    ) -> dict[str, Any]:
        """The document for `reference`, made exactly once (exactly_once.py). `look_up` False
        when nothing was sent for it before (a first attempt costs no query)."""
        if look_up:
            existing = await self.find_document(entity, kind, reference)
            if existing is not None:
                return existing
        body: dict[str, Any] = {
            "CustomerRef": {"value": customer_id},
            "Line": list(lines),
            "GlobalTaxCalculation": tax_mode,
            "PrivateNote": private_note(kind, reference),
            "DocNumber": doc_number(reference),
            **(extra or {}),
        }
        return await self.client.create(
            entity, body, request_id=request_id(self.realm_id, kind, reference)
        )

    async def invoice(
        self,
        reference: str,
        customer_id: str,
        lines: Sequence[Mapping[str, Any]],
        *,
        tax_mode: TaxMode,
    ) -> dict[str, Any]:
        return await self.make_document(
            "Invoice", "invoice", reference, customer_id, lines, tax_mode=tax_mode
        )

    async def credit_memo(
        self,
        reference: str,
        customer_id: str,
        lines: Sequence[Mapping[str, Any]],
        *,
        tax_mode: TaxMode,
    ) -> dict[str, Any]:
        """A credit on the customer's account (no money leaves)."""
        return await self.make_document(
            "CreditMemo", "credit", reference, customer_id, lines, tax_mode=tax_mode
        )

    async def refund_receipt(
        self,
        reference: str,
        customer_id: str,
        lines: Sequence[Mapping[str, Any]],
        *,
        tax_mode: TaxMode,
        paid_from_account: str,
    ) -> dict[str, Any]:
        """Money paid back to the customer out of `paid_from_account`."""
        return await self.make_document(
            "RefundReceipt",
            "refund",
            reference,
            customer_id,
            lines,
            tax_mode=tax_mode,
            extra={"DepositToAccountRef": {"value": paid_from_account}},
        )

    async def pay_invoice(
        self,
        reference: str,
        customer_id: str,
        invoice_id: str,
        amount: Decimal,
        *,
        deposit_to: str | None = None,
        currency: str | None = None,
        look_up: bool = True,
    ) -> dict[str, Any]:
        """A payment of `amount` against the invoice; without `deposit_to`, into Undeposited
        Funds (QuickBooks' clearing account for money not yet banked)."""
        note = private_note("payment", reference)
        if look_up:
            for row in await self.client.query(
                Select("Payment").where("CustomerRef", "=", customer_id)
            ):
                if row.get("PrivateNote") == note:
                    return row
        body: dict[str, Any] = {
            "CustomerRef": {"value": customer_id},
            "TotalAmt": amount.quantize(CENT, ROUND_HALF_UP),
            "PrivateNote": note,
            "Line": [
                {
                    "Amount": amount.quantize(CENT, ROUND_HALF_UP),
                    "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}],
                }
            ],
        }
        if deposit_to is not None:
            body["DepositToAccountRef"] = {"value": deposit_to}
        if currency is not None:
            body["CurrencyRef"] = {"value": currency}
        return await self.client.create(
            "Payment", body, request_id=request_id(self.realm_id, "payment", reference)
        )
