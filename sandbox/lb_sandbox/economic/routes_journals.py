"""/journals/{n}/vouchers: finance vouchers and customer payments into a journal (kassekladde),
not yet booked."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .accounting_years import check_voucher_year
from .auth import current_agreement
from .errors import (
    DOES_NOT_EXIST,
    INVALID_VALUE,
    MISSING_VALUE,
    SCALE_TOO_BIG,
    Problems,
    not_found,
)
from .jsonio import EconomicJSONResponse
from .paging import collection
from .paths import path_number
from .pipeline import EconomicRoute
from .state import Agreement, Entity
from .validation import (
    currency_code,
    date_text,
    decimals_beyond,
    get_path,
    integer,
    number,
    read_object,
    reference,
    reject_nulls,
    require,
    string,
)

router = APIRouter(route_class=EconomicRoute)


def _account(
    a: Agreement, body: dict[str, Any], problems: Problems, path: tuple[str | int, ...]
) -> int | None:
    account = reference(body, problems, path, "accountNumber", a.accounts)
    if account is not None and a.accounts[account].get("blockDirectEntries"):
        problems.add(
            path, INVALID_VALUE, f"Account {account} does not accept direct entries.", account
        )
        return None
    return account


def _finance_vouchers(a: Agreement, body: dict[str, Any], problems: Problems) -> list[Entity]:
    raw = get_path(body, ("entries", "financeVouchers")) or []
    if not isinstance(raw, list):
        problems.add(
            ("entries", "financeVouchers"), INVALID_VALUE, "financeVouchers must be an array."
        )
        return []
    entries: list[Entity] = []
    for i in range(len(raw)):
        path: tuple[str | int, ...] = ("entries", "financeVouchers", i)
        require(
            body,
            problems,
            (*path, "date"),
            (*path, "amount"),
            (*path, "account"),
            (*path, "contraAccount"),
        )
        when = date_text(body, problems, (*path, "date"))
        amount = _amount(body, problems, (*path, "amount"))
        account = _account(a, body, problems, (*path, "account"))
        contra = _account(a, body, problems, (*path, "contraAccount"))
        currency = None
        if get_path(body, (*path, "currency", "code")) is not None:
            currency = currency_code(body, problems, (*path, "currency", "code"), a.currencies)
        text = string(body, problems, (*path, "text"), 250)
        if when and amount is not None and account and contra:
            entry: Entity = {
                "account": {"accountNumber": account, "self": a.accounts[account]["self"]},
                "contraAccount": {"accountNumber": contra, "self": a.accounts[contra]["self"]},
                "amount": amount,
                "amountBaseCurrency": amount,
                "currency": {
                    "code": currency or "DKK",
                    "self": a.link(f"/currencies/{currency or 'DKK'}"),
                },
                "date": when,
            }
            if text is not None:
                entry["text"] = text
            entries.append(entry)
    return entries


def _amount(
    body: dict[str, Any], problems: Problems, path: tuple[str | int, ...]
) -> Decimal | None:
    amount = number(body, problems, path)
    if amount is not None and decimals_beyond(amount, 2):
        # Documented as "max 2 decimals"; the code is the one e-conomic uses for unitNetPrice.
        problems.add(
            path, SCALE_TOO_BIG, "amount scale cannot be greater then two decimal places.", amount
        )
        return None
    return amount


def _customer_payments(a: Agreement, body: dict[str, Any], problems: Problems) -> list[Entity]:
    """Payments from customers: a minus amount credits the customer; the contra account (the
    bank, or a suspense account) is debited. Either customer or contraAccount is required."""
    raw = get_path(body, ("entries", "customerPayments")) or []
    if not isinstance(raw, list):
        problems.add(
            ("entries", "customerPayments"), INVALID_VALUE, "customerPayments must be an array."
        )
        return []
    entries: list[Entity] = []
    for i in range(len(raw)):
        path: tuple[str | int, ...] = ("entries", "customerPayments", i)
        require(body, problems, (*path, "date"), (*path, "amount"))
        if get_path(body, (*path, "customer")) is None and (
            get_path(body, (*path, "contraAccount")) is None
        ):
            problems.add(
                (*path, "customer"),
                MISSING_VALUE,
                "Either customer or contraAccount is required.",
            )
        when = date_text(body, problems, (*path, "date"))
        amount = _amount(body, problems, (*path, "amount"))
        customer = reference(body, problems, (*path, "customer"), "customerNumber", a.customers)
        contra = _account(a, body, problems, (*path, "contraAccount"))
        currency = None
        if get_path(body, (*path, "currency", "code")) is not None:
            currency = currency_code(body, problems, (*path, "currency", "code"), a.currencies)
        text = string(body, problems, (*path, "text"), 250)
        invoice = integer(body, problems, (*path, "customerInvoice"), minimum=1)
        if invoice is not None and invoice not in a.booked:
            problems.add(
                (*path, "customerInvoice"),
                DOES_NOT_EXIST,
                "customerInvoice does not exist.",
                invoice,
            )
            invoice = None
        if when and amount is not None and (customer or contra):
            code = currency or "DKK"
            entry: Entity = {
                "amount": amount,
                "amountBaseCurrency": amount,
                "currency": {"code": code, "self": a.link(f"/currencies/{code}")},
                "date": when,
                "entryType": "customerPayment",
            }
            if customer:
                entry["customer"] = {
                    "customerNumber": customer,
                    "self": a.customers[customer]["self"],
                }
            if contra:
                entry["contraAccount"] = {
                    "accountNumber": contra,
                    "self": a.accounts[contra]["self"],
                }
            if invoice is not None:
                entry["customerInvoice"] = invoice
            if text is not None:
                entry["text"] = text
            entries.append(entry)
    return entries


# Entry type → its array under `entries` (schema journals.journalNumber.vouchers.post).
_ENTRY_ARRAYS = {
    "financeVoucher": "financeVouchers",
    "customerPayment": "customerPayments",
    "manualCustomerInvoice": "manualCustomerInvoices",
    "supplierInvoice": "supplierInvoices",
    "supplierPayment": "supplierPayments",
}


def _check_entry_types(journal: Entity, body: dict[str, Any], problems: Problems) -> None:
    """A journal with `settings.entryTypeRestrictedTo` ("Allowed entry type on given journal",
    schema journals.get) takes entries of that type only. e-conomic's refusal is not
    documented for the legacy API [inferred]: a validation error on the other arrays."""
    only = (journal.get("settings") or {}).get("entryTypeRestrictedTo")
    if only is None:
        return
    for entry_type, array in _ENTRY_ARRAYS.items():
        if entry_type != only and get_path(body, ("entries", array)):
            problems.add(
                ("entries", array),
                INVALID_VALUE,
                f"Journal {journal['journalNumber']} only accepts entries of type {only}.",
            )


@router.post("/journals/{journal}/vouchers", status_code=201)
async def create_vouchers(
    journal: str, request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    journal_number = path_number(journal) or 0
    if journal_number not in agreement.journals:
        raise not_found()
    body = await read_object(request)
    problems = Problems()
    reject_nulls(body, problems)
    require(body, problems, ("accountingYear",), ("entries",))
    year = string(body, problems, ("accountingYear", "year"), 20, min_length=4)
    requested = integer(body, problems, ("voucherNumber",), minimum=1)
    journal_ref = get_path(body, ("journal", "journalNumber"))
    if journal_ref is not None and journal_ref != journal_number:
        problems.add(("journal",), DOES_NOT_EXIST, "journal does not match the path.", journal_ref)
    entries = _finance_vouchers(agreement, body, problems)
    payments = _customer_payments(agreement, body, problems)
    check_voucher_year(agreement, body, problems, year)
    if not entries and not payments and not problems:
        problems.add(("entries",), INVALID_VALUE, "entries must hold at least one entry.")
    _check_entry_types(agreement.journals[journal_number], body, problems)
    problems.raise_if_any()
    assert year
    voucher_number = requested or agreement.next_voucher_number
    agreement.next_voucher_number = max(agreement.next_voucher_number, voucher_number + 1)
    link = agreement.link(f"/journals/{journal_number}/vouchers/{year}-{voucher_number}")
    for entry in entries:
        entry["journalEntryNumber"] = agreement.next_entry_number
        agreement.next_entry_number += 1
        entry["voucher"] = {"voucherNumber": voucher_number, "self": link}
        # Unbooked journal entries show on the accounts' draft balance only.
        for side, sign in (("account", 1), ("contraAccount", -1)):
            account = agreement.accounts[entry[side]["accountNumber"]]
            account["draftBalance"] = (
                account.get("draftBalance", Decimal("0.00")) + sign * entry["amount"]
            )
    for entry in payments:
        entry["journalEntryNumber"] = agreement.next_entry_number
        agreement.next_entry_number += 1
        entry["voucher"] = {"voucherNumber": voucher_number, "self": link}
        if "contraAccount" in entry:  # a payment (minus) debits the contra account
            account = agreement.accounts[entry["contraAccount"]["accountNumber"]]
            account["draftBalance"] = account.get("draftBalance", Decimal("0.00")) - entry["amount"]
    voucher: Entity = {
        "accountingYear": {"year": year, "self": agreement.link(f"/accounting-years/{year}")},
        "journal": {
            "journalNumber": journal_number,
            "self": agreement.journals[journal_number]["self"],
        },
        "voucherNumber": voucher_number,
        "entries": {"financeVouchers": entries}
        | ({"customerPayments": payments} if payments else {}),
        "self": link,
    }
    agreement.vouchers.append(voucher)
    # e-conomic answers a voucher POST with an array (it may split entries across vouchers).
    return EconomicJSONResponse([voucher], status_code=201)


@router.get("/journals/{journal}/vouchers")
async def list_vouchers(
    journal: str, request: Request, agreement: Agreement = Depends(current_agreement)
) -> Response:
    journal_number = path_number(journal) or 0
    if journal_number not in agreement.journals:
        raise not_found()
    items = [v for v in agreement.vouchers if v["journal"]["journalNumber"] == journal_number]
    return EconomicJSONResponse(
        collection(
            request,
            agreement,
            f"/journals/{journal_number}/vouchers",
            items,
            filterable=["voucherNumber"],
        )
    )
