"""QuickBooks Online behind the ledger port (`lb_connectors.ledger`): `QuickBooksLedger` and
`LEDGER_KIND`.

How each use case maps onto QuickBooks:
- customers: found by e-mail (`PrimaryEmailAddr`), name (`DisplayName`) or id, in the order of
  the keys; created with the connection's customer rules (`customer_rules.py`: name format and
  field, address updates, standard and default customer) and the DisplayName clash rule
  (`names.py`: append the match key).
- documents: one step, no drafts (`on_draft` is not called): an Invoice, or for a credit note a
  CreditMemo (option `refund_as=refund_receipt` makes a RefundReceipt paid from
  `refund_account`). Lines by SKU (one `Sku IN (...)` query per 100 SKUs, remembered per
  adapter), TaxCodeRef per line (the line's code, else option `tax_code`), GlobalTaxCalculation
  from option `tax_calculation` (default TaxExcluded: our prices are net). A line without an
  item takes option `default_item` (a SKU). Exactly once per `exactly_once.py`.
- payments: a Payment linked to the invoice; clearing account `undeposited_funds` (or empty)
  sends no DepositToAccountRef, so QuickBooks puts it in Undeposited Funds; any other value is
  an account Id.
- stock: QtyOnHand of Inventory items (TrackQtyOnHand); other items keep no stock (None).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict

from lb_common.db import Database, utcnow
from lb_common.leases import Lease
from lb_common.sealing import SecretBox
from lb_connectors.call_retry import call_retry
from lb_connectors.ledger.consent import ConsentContext, ConsentFlow
from lb_connectors.ledger.errors import LedgerNotFound, LedgerRefused, LedgerUnsupported
from lb_connectors.ledger.models import (
    BookedDocumentLine,
    Choice,
    CustomerChanges,
    CustomerDetails,
    CustomerOutcome,
    CustomerUpdate,
    DocumentKind,
    DocumentRequest,
    ItemDetails,
    ItemTaxRate,
    LedgerCustomer,
    LedgerDocument,
    LedgerItem,
    MatchKey,
    PaymentRequest,
    PostalAddress,
    ReferenceData,
    RegisteredPayment,
    Resume,
    StockLevel,
)
from lb_connectors.ledger.port import DocumentPlan, OnDraft
from lb_connectors.ledger.registry import AdapterContext, LedgerKind

from .books import QuickBooksBooks, SalesLine, TaxMode
from .client import PRODUCTION_URL, QuickBooksClient
from .customer_rules import (
    CustomerRules,
    address_body,
    address_updates,
    customer_name,
    has_customer_details,
    new_customer_fields,
)
from .oauth import OAuthApp
from .query import Select
from .settings import QuickBooksSettings
from .token_keeper import TokenKeeper
from .token_vault import QuickBooksTokenRow, TokenVault

log = logging.getLogger(__name__)

KIND = "quickbooks"
UNDEPOSITED = ("", "undeposited_funds")
_NOTE_PREFIX = "ledgerbridge:"


class QuickBooksCredentials(BaseModel):
    """A connected QuickBooks company: its realm id and the vault row of its tokens (the
    connection's name when it was connected). The tokens themselves live sealed in the vault."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    realm_id: str
    token_key: str
    base_url: str = PRODUCTION_URL


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


def _address(body: dict[str, Any] | None) -> PostalAddress | None:
    if not body:
        return None
    lines = tuple(body[f"Line{i}"] for i in range(1, 6) if body.get(f"Line{i}"))
    return PostalAddress(
        lines=lines, zip=body.get("PostalCode"), city=body.get("City"), country=body.get("Country")
    )


def neutral_customer(row: dict[str, Any]) -> LedgerCustomer:
    return LedgerCustomer(
        id=str(row["Id"]),
        number=str(row["Id"]),
        name=str(row.get("DisplayName", "")),
        currency=(row.get("CurrencyRef") or {}).get("value"),
        email=(row.get("PrimaryEmailAddr") or {}).get("Address"),
        phones=tuple(
            str(phone["FreeFormNumber"])
            for name in ("PrimaryPhone", "Mobile")
            if (phone := row.get(name)) and phone.get("FreeFormNumber")
        ),
        vat_id=row.get("ResaleNum"),
        billing=_address(row.get("BillAddr")),
        barred=not row.get("Active", True),
        read_at=utcnow(),
    )


def _holds(row: dict[str, Any], name: str, value: dict[str, Any] | str) -> bool:
    """The customer already has `value` in `name` (the parts we write; QuickBooks adds Id)."""
    held = row.get(name)
    if isinstance(value, dict):
        return isinstance(held, dict) and all(held.get(k) == v for k, v in value.items())
    return held == value


def _reference(row: dict[str, Any]) -> str | None:
    note = str(row.get("PrivateNote") or "")
    if not note.startswith(_NOTE_PREFIX):
        return None
    return note[len(_NOTE_PREFIX) :].partition(":")[2] or None


def neutral_document(
    row: dict[str, Any], kind: DocumentKind, skus: dict[str, str], currency: str
) -> LedgerDocument:
    gross = _decimal(row.get("TotalAmt"))
    tax = _decimal((row.get("TxnTaxDetail") or {}).get("TotalTax"))
    lines = tuple(
        BookedDocumentLine(
            item=skus.get(str(detail.get("ItemRef", {}).get("value"))),
            quantity=_decimal(detail.get("Qty", 1)),
            net_amount=_decimal(line.get("Amount")),
            description=line.get("Description"),
            unit_net_price=_decimal(detail["UnitPrice"]) if "UnitPrice" in detail else None,
        )
        for line in row.get("Line", [])
        if line.get("DetailType") == "SalesItemLineDetail"
        for detail in [line.get("SalesItemLineDetail") or {}]
    )
    return LedgerDocument(
        kind=kind,
        id=str(row["Id"]),
        number=str(row.get("DocNumber") or row["Id"]),
        state="booked",
        reference=_reference(row),
        customer_id=str((row.get("CustomerRef") or {}).get("value", "")),
        currency=(row.get("CurrencyRef") or {}).get("value") or currency,
        date=dt.date.fromisoformat(str(row.get("TxnDate") or utcnow().date().isoformat())),
        net_amount=gross - tax,
        vat_amount=tax,
        gross_amount=gross,
        lines=lines,
        raw=row,
    )


def stock_level(row: dict[str, Any]) -> StockLevel:
    tracked = row.get("Type") == "Inventory" and row.get("TrackQtyOnHand", True)
    on_hand = _decimal(row.get("QtyOnHand")) if tracked else None
    return StockLevel(
        item=str(row["Sku"]),
        name=row.get("Name"),
        on_hand=on_hand,
        available=on_hand,
        barred=not row.get("Active", True),
    )


def _item_facts(row: dict[str, Any]) -> dict[str, str]:
    return {"type": str(row["Type"])} if row.get("Type") else {}


class QuickBooksLedger:
    """The port over one connected company's `QuickBooksBooks`."""

    def __init__(self, books: QuickBooksBooks) -> None:
        self.books = books
        self.client = books.client
        self._items: dict[str, dict[str, Any]] = {}  # SKU → item; items rarely change
        self._skus: dict[str, str] = {}  # item Id → SKU

    @property
    def kind(self) -> str:
        return KIND

    @property
    def has_drafts(self) -> bool:
        return False  # one-step documents

    # --- customers ------------------------------------------------------------------------

    async def _find_row(self, keys: Sequence[MatchKey]) -> tuple[dict[str, Any], MatchKey] | None:
        for key in keys:
            if not key.value:
                continue
            row: dict[str, Any] | None = None
            if key.kind == "email":
                row = await self.books.customer_by_email(key.value)
            elif key.kind == "name":
                row = await self.books.customer_by_name(key.written or key.value)
            elif key.kind == "customer_number" and key.value.isdigit():
                row = await self.books.customer(key.value)
            if row is not None:
                return row, key
        return None

    async def find_customer(self, keys: Sequence[MatchKey]) -> CustomerOutcome | None:
        found = await self._find_row(keys)
        if found is None:
            return None
        return CustomerOutcome(
            customer=neutral_customer(found[0]), created=False, matched_on=found[1]
        )

    async def find_or_create_customer(
        self,
        keys: Sequence[MatchKey],
        details: CustomerDetails,
        *,
        idempotency_key: str,
        search_first: bool = True,
    ) -> CustomerOutcome:
        rules = CustomerRules.of(details.options)
        if not has_customer_details(details) and not any(k.value for k in keys):
            if rules.default_customer_id is None:
                raise LedgerRefused(
                    "The order has no customer details and the connection has no default "
                    "QuickBooks customer; choose one in the settings, then replay the order"
                )
            return await self._named(rules.default_customer_id, "default customer")
        found = await self._find_row(keys) if search_first else None
        if found is not None:
            row, key = found
            update = address_updates(rules, details)
            if update and any(row.get(name) != value for name, value in update.items()):
                row = await self.books.update_customer(
                    str(row["Id"]), update, reason=f"{idempotency_key}:addresses"
                )
            return CustomerOutcome(customer=neutral_customer(row), created=False, matched_on=key)
        if rules.when_not_found == "standard_customer":
            assert rules.standard_customer_id is not None
            return await self._named(rules.standard_customer_id, "standard customer")
        # The clash rule's suffix: the e-mail where there is one (it explains itself), else the
        # first key with a value.
        match_key = next(
            (k.value for k in sorted(keys, key=lambda k: k.kind != "email") if k.value),
            details.email or idempotency_key,
        )
        created = await self.books.create_customer(
            customer_name(rules, details), match_key, new_customer_fields(rules, details)
        )
        return CustomerOutcome(customer=neutral_customer(created), created=True, matched_on=None)

    async def _named(self, customer_id: str, what: str) -> CustomerOutcome:
        row = await self.books.customer(customer_id)
        if row is None or not row.get("Active", True):
            raise LedgerRefused(
                f"The {what} set for this connection (QuickBooks customer {customer_id}) does "
                "not exist or is inactive; choose another in the settings, then replay the order"
            )
        return CustomerOutcome(customer=neutral_customer(row), created=False, matched_on=None)

    async def get_customer(
        self, customer_id: str, *, fresh: bool = False, known: LedgerCustomer | None = None
    ) -> LedgerCustomer | None:
        """Always read now: this adapter keeps no customer cache (`fresh` and `known` change
        nothing)."""
        row = await self.books.customer(customer_id)
        return None if row is None else neutral_customer(row)

    def known_customer(self, customer_id: str) -> LedgerCustomer | None:
        return None  # no customer cache: a document reads its customer when it needs it

    async def update_customer(
        self, customer_id: str, changes: CustomerChanges, *, idempotency_key: str
    ) -> CustomerUpdate:
        """A sparse update of the fields that differ. The name is left alone (DisplayName is
        unique and the clash rule made it), and so are group, terms and tax zone, which
        QuickBooks customers do not have."""
        row = await self.books.customer(customer_id)
        if row is None:
            raise LedgerNotFound(f"QuickBooks customer {customer_id} does not exist")
        wanted: dict[str, Any] = {}
        if changes.email:
            wanted["PrimaryEmailAddr"] = {"Address": changes.email[:100]}
        if changes.phone:
            wanted["PrimaryPhone"] = {"FreeFormNumber": changes.phone[:30]}
        if changes.vat_id:
            wanted["ResaleNum"] = changes.vat_id[:16]
        if changes.billing:
            wanted["BillAddr"] = address_body(changes.billing)
        if changes.shipping:
            wanted["ShipAddr"] = address_body(changes.shipping)
        update = {name: value for name, value in wanted.items() if not _holds(row, name, value)}
        if not update:
            return CustomerUpdate(customer=neutral_customer(row))
        row = await self.books.update_customer(
            customer_id, update, reason=f"{idempotency_key}:{sorted(update)}"
        )
        # The caller names the fields it changed; only the shipping address is ours to say.
        shipped = ("Updated the shipping address (ShipAddr).",) if "ShipAddr" in update else ()
        return CustomerUpdate(customer=neutral_customer(row), done=shipped)

    async def list_customers(
        self, *, page_size: int | None = None
    ) -> AsyncIterator[LedgerCustomer]:
        for row in await self.client.query(Select("Customer")):
            yield neutral_customer(row)

    async def reference_data(self, *, items: int = 0) -> ReferenceData:
        codes = await self.books.tax_codes()
        accounts = await self.books.accounts()
        clearing = [Choice(id="undeposited_funds", name="Undeposited Funds")] + [
            Choice(id=str(a["Id"]), name=str(a["Name"]), facts={"type": str(a["AccountType"])})
            for a in accounts
            if a.get("AccountType") == "Bank"
        ]
        # Items by SKU, what a line's item and option `default_item` name (a service item for
        # shipping, say); one query, as the full stock sync reads them.
        rows = await self.books.items() if items > 0 else []
        offered = [
            Choice(id=str(r["Sku"]), name=str(r.get("Name") or r["Sku"]), facts=_item_facts(r))
            for r in rows
            if r.get("Sku") and r.get("Active", True)
        ]
        return ReferenceData(
            tax_zones=tuple(Choice(id=str(c["Id"]), name=str(c["Name"])) for c in codes),
            clearing_accounts=tuple(clearing),
            items=tuple(offered[:items]),
            more_items=len(offered) > items,
        )

    # --- items ----------------------------------------------------------------------------

    async def _items_for(self, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        missing = [s for s in dict.fromkeys(skus) if s not in self._items]
        if missing:
            for sku, row in (await self.books.items_by_sku(missing)).items():
                self._items[sku] = row
                self._skus[str(row["Id"])] = sku
        return {s: self._items[s] for s in skus if s in self._items}

    async def find_items(self, items: Sequence[str]) -> dict[str, LedgerItem]:
        """Items by SKU (QuickBooks has no product groups: `group` is None)."""
        return {
            sku: LedgerItem(
                id=sku, name=row.get("Name"), group=None, barred=not row.get("Active", True)
            )
            for sku, row in (await self._items_for(list(items))).items()
        }

    async def create_item(self, details: ItemDetails, *, idempotency_key: str) -> LedgerItem:
        raise LedgerUnsupported(
            f"ledgerbridge does not create QuickBooks items (SKU '{details.id}' is not one): "
            "create the item in QuickBooks with that SKU, or choose a default product, then "
            "replay the order"
        )

    async def item_tax_rates(
        self, document: LedgerDocument, items: Sequence[str]
    ) -> dict[str, ItemTaxRate]:
        return {}  # one-step documents: there is no draft to explain before booking

    # --- documents ------------------------------------------------------------------------

    async def _lines(self, request: DocumentRequest) -> list[dict[str, Any]]:
        options = request.options
        default = options.get("default_item")
        skus = [line.item or default for line in request.lines]
        items = await self._items_for([s for s in skus if s])
        lines: list[dict[str, Any]] = []
        for line, sku in zip(request.lines, skus, strict=True):
            if sku is None:
                raise LedgerRefused(
                    f"Order line '{line.description}' has no SKU and the connection has no "
                    "default QuickBooks item; choose one in the settings, then replay the order"
                )
            item = items.get(sku)
            if item is None:
                raise LedgerRefused(
                    f"SKU '{sku}' (order line '{line.description}') is not an item in "
                    "QuickBooks (no item has that SKU): create it, or choose a default item, "
                    "then replay the order"
                )
            price = line.unit_net_price
            if line.discount_percentage:
                price = price * (100 - line.discount_percentage) / 100
            tax_code = line.tax_code or options.get("tax_code")
            if tax_code is None and _taxed(request):
                raise LedgerRefused(
                    f"The order carries {request.currency} {request.tax} of tax, but order line "
                    f"'{line.description}' would reach QuickBooks without a tax code, and "
                    "QuickBooks would book it without tax: choose the connection's QuickBooks tax "
                    "code (invoicing setting ledger_options.tax_code), then replay the order"
                )
            lines.append(
                SalesLine(str(item["Id"]), line.quantity, price, line.description, tax_code).body()
            )
        return lines

    async def make_document(
        self, request: DocumentRequest | DocumentPlan, *, resume: Resume, on_draft: OnDraft
    ) -> LedgerDocument:
        plan = DocumentPlan.of(request)
        if plan.send_by is not None:
            raise LedgerUnsupported(
                f"QuickBooks cannot send invoices by {plan.send_by}; clear that setting"
            )
        if resume.earlier_attempt:
            # What the earlier attempt made is found before anything is planned again (a plan
            # does not say yet whether a credit is a CreditMemo or a RefundReceipt).
            kinds: list[tuple[str, str]] = (
                [self._document_kind(request.kind, request.options)]
                if isinstance(request, DocumentRequest)
                else [("Invoice", "invoice")]
                if plan.kind == "invoice"
                else [("CreditMemo", "credit"), ("RefundReceipt", "refund")]
            )
            for entity, kind in kinds:
                row = await self.books.find_document(entity, kind, plan.reference)
                if row is not None:
                    await self._learn_skus(row)
                    currency = (row.get("CurrencyRef") or {}).get("value") or ""
                    return neutral_document(row, plan.kind, self._skus, currency)
        return await self._make(await plan.build())

    async def _make(self, request: DocumentRequest) -> LedgerDocument:
        options = request.options
        mode = cast(TaxMode, options.get("tax_calculation", "TaxExcluded"))
        if mode not in ("TaxInclusive", "TaxExcluded", "NotApplicable"):
            raise LedgerRefused(f"tax_calculation {mode!r} is not a QuickBooks tax calculation")
        entity, kind = self._document_kind(request.kind, options)
        # Always the order's currency: a company without multicurrency refuses a foreign one,
        # where leaving it out would book foreign amounts as home currency.
        extra: dict[str, Any] = {
            "TxnDate": request.date.isoformat(),
            "CurrencyRef": {"value": request.currency},
        }
        if request.due_date and entity == "Invoice":
            extra["DueDate"] = request.due_date.isoformat()
        if request.bill_to:
            extra["BillAddr"] = address_body(request.bill_to)
        if request.ship_to and entity == "Invoice":
            extra["ShipAddr"] = address_body(request.ship_to)
        if request.notes:
            extra["CustomerMemo"] = {"value": request.notes[:1000]}
        if entity == "RefundReceipt":
            account = options.get("refund_account")
            if not account:
                raise LedgerRefused(
                    "A QuickBooks refund receipt needs the account the money is paid from; "
                    "set refund_account in the settings, then replay"
                )
            extra["DepositToAccountRef"] = {"value": account}
        row = await self.books.make_document(
            entity,
            kind,
            request.reference,
            request.customer_id,
            await self._lines(request),
            tax_mode=mode,
            extra=extra,
            look_up=False,  # looked up above when an earlier attempt may have made it
        )
        return neutral_document(row, request.kind, self._skus, request.currency)

    @staticmethod
    def _document_kind(
        kind: DocumentKind, options: dict[str, str]
    ) -> tuple[Literal["Invoice", "CreditMemo", "RefundReceipt"], str]:
        if kind == "invoice":
            return "Invoice", "invoice"
        if options.get("refund_as") == "refund_receipt":
            return "RefundReceipt", "refund"
        return "CreditMemo", "credit"

    async def find_document(
        self, reference: str, *, kind: DocumentKind = "invoice", with_lines: bool = True
    ) -> LedgerDocument | None:
        for entity, tag in (
            [("Invoice", "invoice")]
            if kind == "invoice"
            else [("CreditMemo", "credit"), ("RefundReceipt", "refund")]
        ):
            row = await self.books.find_document(entity, tag, reference)
            if row is not None:
                await self._learn_skus(row)
                return neutral_document(row, kind, self._skus, "")
        return None

    async def find_draft(
        self, reference: str, *, draft_id: str | None = None, kind: DocumentKind = "invoice"
    ) -> LedgerDocument | None:
        return None  # QuickBooks has no drafts

    async def delete_draft(self, draft_id: str) -> None:
        return None  # QuickBooks has no drafts: nothing of ours is unbooked

    async def recorded_document(
        self, raw: dict[str, Any], *, kind: DocumentKind = "invoice"
    ) -> LedgerDocument:
        await self._learn_skus(raw)  # items met before are known: no call
        currency = (raw.get("CurrencyRef") or {}).get("value") or ""
        return neutral_document(raw, kind, self._skus, currency)

    async def get_document(
        self, document_id: str, *, kind: DocumentKind = "invoice"
    ) -> LedgerDocument | None:
        for entity in ["Invoice"] if kind == "invoice" else ["CreditMemo", "RefundReceipt"]:
            row = await self.client.read(entity, document_id)
            if row is not None:
                await self._learn_skus(row)
                return neutral_document(row, kind, self._skus, "")
        return None

    async def _learn_skus(self, row: dict[str, Any]) -> None:
        ids = {
            str((line.get("SalesItemLineDetail") or {}).get("ItemRef", {}).get("value"))
            for line in row.get("Line", [])
            if line.get("DetailType") == "SalesItemLineDetail"
        } - set(self._skus)
        for ident in ids:
            item = await self.client.read("Item", ident)
            if item is not None and item.get("Sku"):
                self._skus[ident] = str(item["Sku"])

    # --- payments -------------------------------------------------------------------------

    async def register_payment(
        self, request: PaymentRequest, *, earlier_attempt: bool
    ) -> RegisteredPayment:
        account = request.clearing_account.strip()
        row = await self.books.pay_invoice(
            request.reference,
            request.customer_id,
            request.document_id,
            request.amount,
            deposit_to=None if account.lower() in UNDEPOSITED else account,
            currency=request.currency,
            look_up=earlier_attempt,
        )
        return RegisteredPayment(
            id=str(row["Id"]),
            document_id=request.document_id,
            amount=_decimal(row.get("TotalAmt")),
            currency=(row.get("CurrencyRef") or {}).get("value") or request.currency,
        )

    # --- stock ----------------------------------------------------------------------------

    async def read_stock(self, items: Sequence[str]) -> dict[str, StockLevel]:
        found = await self.books.items_by_sku(items)
        return {sku: stock_level(row) for sku, row in found.items()}

    async def read_catalogue(self) -> list[StockLevel]:
        return [stock_level(row) for row in await self.books.items() if row.get("Sku")]

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.client.keeper.aclose()


def _keeper(settings: QuickBooksSettings, context: AdapterContext) -> TokenKeeper:
    """The adapter's own keeper (and database engine): two keepers of one process refreshing
    the same tokens still take turns, through the lease."""
    if not settings.token_database_url:
        raise LedgerRefused(
            "A connection books into QuickBooks but LEDGERBRIDGE_QUICKBOOKS_TOKEN_DATABASE_URL "
            "is not set: point every service at the one database holding the QuickBooks tokens"
        )
    db = Database(settings.token_database_url)
    app = OAuthApp(
        settings.client_id, settings.client_secret.get_secret_value(), settings.token_url
    )
    vault = TokenVault(db, SecretBox.from_settings(context.settings))
    return TokenKeeper(
        vault, app, db, transport=context.transport, prepare=_tables(db), owns_db=True
    )


def _tables(db: Database) -> Callable[[], Awaitable[None]]:
    async def create() -> None:
        # The vault's table and the leases table, where no service's migrations made them.
        await db.create_tables([QuickBooksTokenRow, Lease])

    return create


def _open(credentials: BaseModel, context: AdapterContext) -> QuickBooksLedger:
    assert isinstance(credentials, QuickBooksCredentials)
    settings = QuickBooksSettings()
    client = QuickBooksClient(
        credentials.base_url,
        credentials.token_key,
        _keeper(settings, context),
        realm_id=credentials.realm_id,
        minor_version=settings.minor_version,
        transport=context.transport,
        retry=call_retry(context.settings),
        per_minute=settings.requests_per_minute,
        concurrent=settings.concurrent_requests,
    )
    return QuickBooksLedger(QuickBooksBooks(client))


def _pool_key(credentials: BaseModel) -> tuple[str, ...]:
    assert isinstance(credentials, QuickBooksCredentials)
    return (credentials.base_url, credentials.realm_id, credentials.token_key)


def _consent(context: ConsentContext) -> ConsentFlow:
    from .consent import IntuitConsent  # it imports this module

    return IntuitConsent(context)


LEDGER_KIND = LedgerKind(
    kind=KIND,
    label="QuickBooks Online",
    credentials=QuickBooksCredentials,
    open=_open,
    pool_key=_pool_key,
    consent=_consent,
)

__all__ = ["LEDGER_KIND", "QuickBooksCredentials", "QuickBooksLedger"]


def _taxed(request: DocumentRequest) -> bool:
    """Whether the shop charged tax that QuickBooks must charge too (not when the connection
    books without tax on purpose, `tax_calculation` NotApplicable)."""
    return (
        request.tax is not None
        and request.tax > 0
        and request.options.get("tax_calculation") != "NotApplicable"
    )
