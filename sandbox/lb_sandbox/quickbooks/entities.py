"""Creating and updating QuickBooks entities with the checks QuickBooks makes.

- SyncToken: an update names the version it read; an older one is refused (5010), and every
  accepted update adds one. `"sparse": true` changes only the fields sent; a full update clears
  the writable fields it leaves out.
- DisplayName is unique across Customer, Vendor and Employee (6240), Item names likewise per item.
- Sales lines: `SalesItemLineDetail` needs an ItemRef; Amount must equal UnitPrice x Qty (6070).
  Tax per line from its TaxCodeRef, inclusive or exclusive per GlobalTaxCalculation.
- A Payment without DepositToAccountRef goes to Undeposited Funds; each linked invoice's Balance
  drops by its line's Amount, which may not exceed it.
- RefundReceipt needs DepositToAccountRef (the account the money leaves) and a line.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .faults import (
    AMOUNT_MISMATCH,
    DUPLICATE_NAME,
    INVALID_ENUM,
    STALE_OBJECT,
    STRING_LENGTH,
    QuickBooksFault,
    invalid_reference,
    missing,
    not_found,
    qbo_time,
    validation,
)
from .state import NAME_LIST, UNDEPOSITED_FUNDS, Company

CENT = Decimal("0.01")
ITEM_TYPES = ("Inventory", "NonInventory", "Service", "Other Charge", "Group", "Category")
TAX_MODES = ("TaxInclusive", "TaxExcluded", "NotApplicable")
# Fields the server owns: a full update keeps them, whatever the body says.
_SERVER_FIELDS = {
    "Id",
    "SyncToken",
    "MetaData",
    "Balance",
    "TotalAmt",
    "RemainingCredit",
    "UnappliedAmt",
    "TxnTaxDetail",
    "domain",
    "sparse",
}


def _length(value: Any, element: str, maximum: int) -> None:
    if value is not None and len(str(value)) > maximum:
        raise validation(
            STRING_LENGTH,
            "String length is either shorter or longer than supported by specification",
            f"String length specified does not match the supported length. Min:0 Max:{maximum} "
            f"supplied:{len(str(value))}",
            element,
        )


def _money(value: Any, element: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise validation(
            "2090", "Invalid Number", f"Invalid Number : {element} is not a number", element
        ) from None
    if not amount.is_finite():
        raise validation("2090", "Invalid Number", f"Invalid Number : {element}", element)
    return amount


def _ref(
    company: Company, body: dict[str, Any], key: str, entity: str, *, required: bool
) -> str | None:
    ref = body.get(key)
    if ref is None:
        if required:
            raise missing(key, entity)
        return None
    value = ref.get("value") if isinstance(ref, dict) else None
    if not value or str(value) not in company.table(entity):
        raise invalid_reference(key, str(value))
    return str(value)


def _stamp(row: dict[str, Any], *, created: bool) -> None:
    now = qbo_time()
    meta = row.setdefault("MetaData", {})
    if created:
        meta["CreateTime"] = now
    meta["LastUpdatedTime"] = now


# --- name lists ---------------------------------------------------------------------------


def _display_name(body: dict[str, Any]) -> str:
    name = body.get("DisplayName")
    if name:
        return str(name)
    parts = [body.get(k) for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")]
    built = " ".join(str(p) for p in parts if p) or body.get("CompanyName") or ""
    if not built:
        raise missing("DisplayName", "Customer")
    return str(built)


def _unique_name(company: Company, name: str, own_id: str | None) -> None:
    wanted = name.strip().lower()
    for entity in NAME_LIST:
        for row in company.table(entity).values():
            if row.get("DisplayName", "").strip().lower() == wanted and not (
                entity == "Customer" and row["Id"] == own_id
            ):
                raise validation(
                    DUPLICATE_NAME,
                    "Duplicate Name Exists Error",
                    f"The name supplied already exists. : Another customer, vendor or employee "
                    f"is already using this name ({name}). Please use a different name. "
                    f"Id={row['Id']}",
                )


def check_customer(company: Company, row: dict[str, Any], own_id: str | None) -> None:
    row["DisplayName"] = _display_name(row)
    _length(row["DisplayName"], "DisplayName", 500)
    if ":" in row["DisplayName"]:
        raise validation(
            "2170",
            "Invalid String",
            "Invalid String : DisplayName may not contain ':'",
            "DisplayName",
        )
    email = row.get("PrimaryEmailAddr")
    if isinstance(email, dict):
        _length(email.get("Address"), "PrimaryEmailAddr.Address", 100)
    _unique_name(company, row["DisplayName"], own_id)
    row.setdefault("Active", True)
    row.setdefault("Balance", Decimal("0"))


def check_item(company: Company, row: dict[str, Any], own_id: str | None) -> None:
    name = row.get("Name")
    if not name:
        raise missing("Name", "Item")
    _length(name, "Name", 100)
    _length(row.get("Sku"), "Sku", 100)
    for other in company.table("Item").values():
        if other["Id"] != own_id and other.get("Name", "").lower() == str(name).lower():
            raise validation(
                DUPLICATE_NAME,
                "Duplicate Name Exists Error",
                f"The name supplied already exists. : Another product or service is already "
                f"using this name ({name}). Id={other['Id']}",
            )
    kind = row.setdefault("Type", "NonInventory")
    if kind not in ITEM_TYPES:
        raise validation(
            INVALID_ENUM, "Invalid Enumeration", f"Invalid Enumeration : {kind}", "Type"
        )
    if kind in ("Inventory", "Service", "Other Charge", "NonInventory"):
        _ref(company, row, "IncomeAccountRef", "Account", required=True)
    if kind == "Inventory":
        _ref(company, row, "AssetAccountRef", "Account", required=True)
        for key in ("TrackQtyOnHand", "QtyOnHand", "InvStartDate"):
            if row.get(key) is None:
                raise missing(key, "Item")
        row["QtyOnHand"] = _money(row["QtyOnHand"], "QtyOnHand")
    row.setdefault("Active", True)
    if row.get("UnitPrice") is not None:
        row["UnitPrice"] = _money(row["UnitPrice"], "UnitPrice")


# --- sales documents ----------------------------------------------------------------------


def _sales_lines(company: Company, row: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """Validate the lines; return (net of lines, tax)."""
    lines = row.get("Line")
    if not isinstance(lines, list) or not lines:
        raise missing("Line", "Transaction")
    mode = row.setdefault("GlobalTaxCalculation", "TaxExcluded")
    if mode not in TAX_MODES:
        raise validation(
            INVALID_ENUM,
            "Invalid Enumeration",
            f"Invalid Enumeration : {mode}",
            "GlobalTaxCalculation",
        )
    total, tax = Decimal(0), Decimal(0)
    discount = Decimal(0)
    for index, line in enumerate(lines):
        where = f"Line[{index}]"
        detail_type = line.get("DetailType")
        if detail_type is None:
            raise missing(f"{where}.DetailType", "Line")
        if line.get("Amount") is None:
            raise missing(f"{where}.Amount", "Line")
        amount = line["Amount"] = _money(line["Amount"], f"{where}.Amount")
        line.setdefault("Id", str(index + 1))
        line["LineNum"] = index + 1
        if detail_type == "SalesItemLineDetail":
            detail = line.get("SalesItemLineDetail") or {}
            item = _ref(company, detail, "ItemRef", "Item", required=True)
            assert item is not None
            if detail.get("UnitPrice") is not None and detail.get("Qty") is not None:
                price = _money(detail["UnitPrice"], f"{where}.UnitPrice")
                qty = _money(detail["Qty"], f"{where}.Qty")
                if (price * qty).quantize(CENT, ROUND_HALF_UP) != amount.quantize(CENT):
                    raise validation(
                        AMOUNT_MISMATCH,
                        "Amount is not equal to UnitPrice * Qty",
                        f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount}",
                        f"{where}.Amount",
                    )
            rate = Decimal(0)
            code = _ref(company, detail, "TaxCodeRef", "TaxCode", required=False)
            if code is not None and mode != "NotApplicable":
                rate = company.table("TaxCode")[code]["_rate"] / 100
            if mode == "TaxInclusive":
                tax += (amount - amount / (1 + rate)).quantize(CENT, ROUND_HALF_UP)
            else:
                tax += (amount * rate).quantize(CENT, ROUND_HALF_UP)
            total += amount
        elif detail_type == "DiscountLineDetail":
            discount += amount
        elif detail_type == "SubTotalLineDetail":
            continue
        elif detail_type == "DescriptionOnly":
            continue
        else:
            raise validation(
                INVALID_ENUM,
                "Invalid Enumeration",
                f"Invalid Enumeration : {detail_type}",
                f"{where}.DetailType",
            )
    return total - discount, tax


def check_currency(company: Company, row: dict[str, Any]) -> None:
    """Without multicurrency a transaction is in the home currency; another one is refused."""
    ref = row.get("CurrencyRef")
    if ref is None:
        return
    code = ref.get("value") if isinstance(ref, dict) else None
    if code != company.home_currency and not company.multicurrency:
        raise validation(
            "6000",
            "A business validation error has occurred while processing your request",
            f"Business Validation Error: currency {code} is not the home currency "
            f"{company.home_currency} and multicurrency is off",
            "CurrencyRef",
        )


def check_sales_document(company: Company, row: dict[str, Any], entity: str) -> None:
    check_currency(company, row)
    _ref(company, row, "CustomerRef", "Customer", required=entity != "RefundReceipt")
    _length(row.get("DocNumber"), "DocNumber", 21)
    _length(row.get("PrivateNote"), "PrivateNote", 4000)
    net, tax = _sales_lines(company, row)
    inclusive = row["GlobalTaxCalculation"] == "TaxInclusive"
    total = net if inclusive else net + tax
    row["TxnTaxDetail"] = {"TotalTax": tax}
    row["TotalAmt"] = total
    row.setdefault("TxnDate", qbo_time()[:10])
    if entity == "Invoice":
        row["Balance"] = total
    elif entity == "CreditMemo":
        row["RemainingCredit"] = total
        row["Balance"] = total
    elif entity == "RefundReceipt":
        _ref(company, row, "DepositToAccountRef", "Account", required=True)


def check_payment(
    company: Company, row: dict[str, Any], previous: dict[str, Any] | None
) -> Callable[[], None]:
    """Validate; return the step that applies the payment to its invoices once it is stored."""
    check_currency(company, row)
    customer = _ref(company, row, "CustomerRef", "Customer", required=True)
    if row.get("TotalAmt") is None:
        raise missing("TotalAmt", "Payment")
    total = row["TotalAmt"] = _money(row["TotalAmt"], "TotalAmt")
    if row.get("DepositToAccountRef") is None:
        row["DepositToAccountRef"] = {"value": UNDEPOSITED_FUNDS, "name": "Undeposited Funds"}
    else:
        _ref(company, row, "DepositToAccountRef", "Account", required=True)
    applied: list[tuple[dict[str, Any], Decimal]] = []
    undo = {
        link["TxnId"]: Decimal(str(line["Amount"]))
        for line in (previous or {}).get("Line", [])
        for link in line.get("LinkedTxn", [])
    }
    for index, line in enumerate(row.get("Line") or []):
        amount = line["Amount"] = _money(line.get("Amount"), f"Line[{index}].Amount")
        for link in line.get("LinkedTxn") or []:
            if link.get("TxnType") != "Invoice":
                continue
            invoice = company.table("Invoice").get(str(link.get("TxnId")))
            if invoice is None:
                raise not_found("Invoice", str(link.get("TxnId")))
            if invoice["CustomerRef"]["value"] != customer:
                raise validation(
                    "6000",
                    "A business validation error has occurred while processing your request",
                    "Business Validation Error: the invoice belongs to another customer",
                )
            open_amount = invoice["Balance"] + undo.get(invoice["Id"], Decimal(0))
            if amount > open_amount:
                raise validation(
                    "6000",
                    "A business validation error has occurred while processing your request",
                    f"Business Validation Error: the payment of {amount} exceeds the "
                    f"invoice {invoice['Id']}'s open balance of {open_amount}",
                )
            applied.append((invoice, amount))
    used = sum((a for _, a in applied), Decimal(0))
    if used > total:
        raise validation(
            "6000",
            "A business validation error has occurred while processing your request",
            "Business Validation Error: the lines apply more than TotalAmt",
        )
    row["UnappliedAmt"] = total - used

    def apply() -> None:
        for txn_id, amount in undo.items():
            if txn_id in company.table("Invoice"):
                company.table("Invoice")[txn_id]["Balance"] += amount
        for invoice, amount in applied:
            invoice["Balance"] -= amount

    return apply


# --- create / update ----------------------------------------------------------------------


def _check(
    company: Company, entity: str, row: dict[str, Any], previous: dict[str, Any] | None
) -> Callable[[], None]:
    own = previous["Id"] if previous else None
    if entity == "Customer":
        check_customer(company, row, own)
    elif entity == "Item":
        check_item(company, row, own)
    elif entity in ("Invoice", "CreditMemo", "RefundReceipt"):
        check_sales_document(company, row, entity)
    elif entity == "Payment":
        return check_payment(company, row, previous)
    elif entity in NAME_LIST:
        row["DisplayName"] = _display_name(row)
        _unique_name(company, row["DisplayName"], own if entity == "Customer" else None)
    if entity == "Invoice" and previous is not None:
        # Payments already applied stay applied after an update.
        row["Balance"] = row["TotalAmt"] - (previous["TotalAmt"] - previous["Balance"])
    return lambda: None


def _writable(entity: str, body: dict[str, Any]) -> dict[str, Any]:
    # A payment's TotalAmt is what the customer paid: sent, not computed.
    owned = _SERVER_FIELDS - {"TotalAmt"} if entity == "Payment" else _SERVER_FIELDS
    return {k: v for k, v in body.items() if k not in owned}


def create(company: Company, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("Id"):
        # A body with an Id is an update; QuickBooks says SyncToken is missing when it lacks one.
        return update(company, entity, body)
    row = _writable(entity, body)
    apply = _check(company, entity, row, None)
    row["Id"] = company.next_id(entity)
    row["SyncToken"] = "0"
    row["domain"] = "QBO"
    _stamp(row, created=True)
    company.table(entity)[row["Id"]] = row
    apply()
    return row


def update(company: Company, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    ident = str(body["Id"])
    current = company.table(entity).get(ident)
    if current is None:
        raise not_found(entity, ident)
    if body.get("SyncToken") is None:
        raise missing("SyncToken", entity)
    if str(body["SyncToken"]) != current["SyncToken"]:
        raise validation(
            STALE_OBJECT,
            "Stale Object Error",
            f"Stale Object Error : You and another user were working on the same thing. "
            f"SyncToken {body['SyncToken']} is not the current {current['SyncToken']} of "
            f"{entity} {ident}",
            "SyncToken",
        )
    sent = _writable(entity, body)
    if body.get("sparse") is True:
        row = {**current, **sent}
    else:
        row = {k: v for k, v in current.items() if k in _SERVER_FIELDS or k.startswith("_")}
        row.update(sent)
    if entity == "Payment" and body.get("sparse") is True and "Line" not in body:
        row["Line"] = current.get("Line", [])
    apply = _check(company, entity, row, current)
    row["Id"], row["domain"] = ident, "QBO"
    row["SyncToken"] = str(int(current["SyncToken"]) + 1)
    _stamp(row, created=False)
    company.table(entity)[ident] = row
    apply()
    return row


def refuse_unknown_body(body: Any, entity: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise QuickBooksFault(
            400,
            "2010",
            "Request has invalid or unsupported property",
            f"Property Name:Can not instantiate {entity} from the request body",
        )
    return body
