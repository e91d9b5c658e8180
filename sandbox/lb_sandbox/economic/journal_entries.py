"""GET /journals/{n}/entries: the entries of a journal not booked yet, one item per entry of
every voucher posted to it (schema journals.journalNumber.entries.get, whose filterable
properties are listed below). The sandbox does not book journals, so entries stay here."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .auth import current_agreement
from .errors import not_found
from .jsonio import EconomicJSONResponse
from .paging import collection
from .paths import path_number
from .pipeline import EconomicRoute
from .state import Agreement, Entity

router = APIRouter(route_class=EconomicRoute)

FILTERABLE = [
    "account.accountNumber", "customer.customerNumber", "supplier.supplierNumber", "text",
    "amount", "contraAccount.accountNumber", "contraVatAccount.vatCode", "contraVatAmount",
    "currency.code", "date", "employee.employeeNumber", "exchangeRate", "voucher.voucherNumber",
    "amountDefaultCurrency", "journalEntryNumber",
]  # fmt: skip
# Kept from a voucher's entry; the rest (entryType, the sandbox's own) is not in the schema.
_ENTRY_PROPERTIES = (
    "account", "customer", "customerInvoice", "text", "amount", "contraAccount", "currency",
    "date", "exchangeRate", "journalEntryNumber",
)  # fmt: skip


def journal_entries(a: Agreement, journal_number: int) -> list[Entity]:
    journal = a.journals[journal_number]
    found: list[Entity] = []
    for voucher in a.vouchers:
        if voucher["journal"]["journalNumber"] != journal_number:
            continue
        for kind in ("financeVouchers", "customerPayments"):
            for entry in voucher["entries"].get(kind, []):
                item: Entity = {k: entry[k] for k in _ENTRY_PROPERTIES if k in entry}
                item["amountDefaultCurrency"] = entry.get("amountBaseCurrency", entry["amount"])
                item["journal"] = {"journalNumber": journal_number, "self": journal["self"]}
                item["voucher"] = {
                    "accountingYear": voucher["accountingYear"],
                    "voucherNumber": voucher["voucherNumber"],
                    "self": voucher["self"],
                }
                item["self"] = a.link(
                    f"/journals/{journal_number}/entries/{entry['journalEntryNumber']}"
                )
                found.append(item)
    return sorted(found, key=lambda e: int(e["journalEntryNumber"]))


@router.get("/journals/{journal}/entries")
async def list_journal_entries(
    journal: str, request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    journal_number = path_number(journal) or 0
    if journal_number not in agreement.journals:
        raise not_found()
    return EconomicJSONResponse(
        collection(
            request,
            agreement,
            f"/journals/{journal_number}/entries",
            journal_entries(agreement, journal_number),
            filterable=FILTERABLE,
        )
    )
