"""The ledger port: the use cases the services need from any ledger, in neutral models.

An adapter (one package per ledger kind, e.g. `lb_connectors.economic.ledger`) implements
`Ledger`; the registry (`registry.py`) opens one per connection from its ledger kind and
credentials. Services depend on this module, `models.py` and `errors.py` only.

The exactly-once contract every adapter honours (docs/ledger-port.md says it at length):
- Every create carries an idempotency key derived from our `reference` (where the ledger has
  such a header or parameter), and the document carries the reference where the ledger can
  search by it.
- `Resume.earlier_attempt` False: nothing was sent for this reference before, so the adapter
  looks nothing up (the call diet). True: an earlier attempt's outcome is unknown, so it looks
  the ledger up by the reference (and by `Resume.draft_id`) before creating anything.
- `on_draft` is awaited after a draft exists and before it is booked: the caller may record
  the draft's id durably there (credit notes do; invoices record it with the booking, since a
  retry finds the draft by the reference anyway), and may raise to leave it unbooked (e.g.
  totals differ).
- Booking a draft that turns out gone or refused looks the booked document up by the reference
  before giving up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from lb_connectors.ledger.models import (
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
    ReferenceData,
    RegisteredPayment,
    Resume,
    StockLevel,
)

OnDraft = Callable[[LedgerDocument], Awaitable[None]]


@dataclass(frozen=True)
class DocumentPlan:
    """A document request made only when it is needed: `build` is awaited when nothing of an
    earlier attempt was found, so a resumed attempt that finds its draft or document spends no
    reads on planning. What the adapter needs before that (to find, and to book what it finds)
    is given here; `build` must give a request with the same `reference` and `kind`."""

    reference: str
    build: Callable[[], Awaitable[DocumentRequest]]
    kind: DocumentKind = "invoice"
    book: bool = True
    send_by: Literal["EAN"] | None = None

    @classmethod
    def of(cls, request: DocumentRequest | DocumentPlan) -> DocumentPlan:
        if isinstance(request, DocumentPlan):
            return request

        async def ready() -> DocumentRequest:
            return request

        return cls(request.reference, ready, request.kind, request.book, request.send_by)


@runtime_checkable
class Ledger(Protocol):
    """One connection's ledger. Instances are shared by every connection with the same
    credentials (one HTTP pool, one pacer); they hold no per-order state."""

    @property
    def kind(self) -> str:
        """The registry's name for this ledger kind ("economic", "quickbooks")."""
        ...

    @property
    def has_drafts(self) -> bool:
        """Whether documents pass through a draft (and `on_draft`) before they are booked; a
        caller checks a one-step document's amounts before it asks for it."""
        ...

    async def find_customer(self, keys: Sequence[MatchKey]) -> CustomerOutcome | None:
        """The customer matching the first key that finds one (keys in priority order), or
        None. Several matches for one key: the lowest id, logged."""
        ...

    async def find_or_create_customer(
        self,
        keys: Sequence[MatchKey],
        details: CustomerDetails,
        *,
        idempotency_key: str,
        search_first: bool = True,
    ) -> CustomerOutcome:
        """The customer found by `keys`, else one created from `details` (created=True). The
        create carries `idempotency_key`; a create whose reply was lost and is retried finds
        the customer by the keys first. A name the ledger requires unique (QuickBooks'
        DisplayName) that clashes is made unique by the adapter's documented rule.
        `search_first` False: the caller searched the keys just now and found nothing, so the
        adapter does not search them again (the keys still name the customer, e.g. for the
        clash rule)."""
        ...

    async def get_customer(
        self, customer_id: str, *, fresh: bool = False, known: LedgerCustomer | None = None
    ) -> LedgerCustomer | None:
        """The customer read just now (or from the adapter's short cache), None if gone.
        `read_at` says when it was read. `fresh`: never from the cache. `known`: the customer
        as another service read it (at its `read_at`), which the adapter may answer with while
        its cache would still keep it."""
        ...

    async def find_items(self, items: Sequence[str]) -> dict[str, LedgerItem]:
        """The items (products) the ledger has among `items`, by id; one it lacks is left out."""
        ...

    async def create_item(self, details: ItemDetails, *, idempotency_key: str) -> LedgerItem:
        """A new item (a product the shop sells that the ledger lacks). LedgerUnsupported
        where the adapter does not create items."""
        ...

    async def item_tax_rates(
        self, document: LedgerDocument, items: Sequence[str]
    ) -> dict[str, ItemTaxRate]:
        """The VAT rate the ledger applies to each item on `document` (a draft it returned),
        to explain a VAT difference; empty where the ledger cannot say."""
        ...

    def known_customer(self, customer_id: str) -> LedgerCustomer | None:
        """The customer as this adapter last read or wrote it, while its cache holds it; never
        calls the ledger (None: not known, read it when needed)."""
        ...

    async def update_customer(
        self, customer_id: str, changes: CustomerChanges, *, idempotency_key: str
    ) -> CustomerUpdate:
        """Write the fields set in `changes` onto the customer, keeping every other field;
        `changes.shipping` adds a delivery address unless the customer has the same one.
        `LedgerNotFound` when the customer is gone."""
        ...

    def list_customers(self, *, page_size: int | None = None) -> AsyncIterator[LedgerCustomer]:
        """Every customer of the ledger, paged by the adapter (a debtor import)."""
        ...

    async def reference_data(self, *, items: int = 0) -> ReferenceData:
        """The ledger's lists a settings screen offers (groups, terms, tax zones...), and with
        `items` > 0 up to that many of its items (active ones; `more_items` if there are
        more)."""
        ...

    async def make_document(
        self, request: DocumentRequest | DocumentPlan, *, resume: Resume, on_draft: OnDraft
    ) -> LedgerDocument:
        """The document for `request.reference`, made exactly once: booked (state "booked"),
        or left as a draft when `request.book` is False. A ledger without drafts makes a
        one-step document (on_draft is then not called). A credit note is
        `kind="credit_note"` with `credits` naming the invoice. A `DocumentPlan` builds the
        request only when nothing of an earlier attempt is found."""
        ...

    async def find_document(
        self, reference: str, *, kind: DocumentKind = "invoice", with_lines: bool = True
    ) -> LedgerDocument | None:
        """The booked document carrying our `reference`, with its lines (unless `with_lines`
        is off: the totals are enough, which may save a call); None if none. Several: the
        lowest id, logged as an error."""
        ...

    async def find_draft(
        self, reference: str, *, draft_id: str | None = None, kind: DocumentKind = "invoice"
    ) -> LedgerDocument | None:
        """The unbooked draft made for `reference`: the one recorded (`draft_id`) if it is
        still there, else one carrying the reference. None where the ledger has no drafts."""
        ...

    async def delete_draft(self, draft_id: str) -> None:
        """Delete an unbooked draft of ours (one already gone is fine)."""
        ...

    async def recorded_document(
        self, raw: dict[str, Any], *, kind: DocumentKind = "invoice"
    ) -> LedgerDocument:
        """A booked document from the `raw` body we recorded (`LedgerDocument.raw`), in
        neutral terms, reading the ledger only for what the body lacks (e-conomic: nothing)."""
        ...

    async def get_document(
        self, document_id: str, *, kind: DocumentKind = "invoice"
    ) -> LedgerDocument | None:
        """A booked document by the ledger's id, with its lines."""
        ...

    async def register_payment(
        self, request: PaymentRequest, *, earlier_attempt: bool
    ) -> RegisteredPayment:
        """A payment against a booked document, on the clearing account, exactly once:
        `earlier_attempt` True looks the ledger up by the reference first."""
        ...

    async def read_stock(self, items: Sequence[str]) -> dict[str, StockLevel]:
        """Stock for the given item ids (SKUs); an item the ledger lacks is left out. Reads
        in as few calls as the ledger allows (e-conomic: its whole product list when that fits
        one page, else 40 items per filtered list). May return other items' stock read in the
        same call: it is as fresh as the items asked for."""
        ...

    async def read_catalogue(self) -> list[StockLevel]:
        """Every item with its stock, for a full stock comparison (paged by the adapter)."""
        ...

    async def aclose(self) -> None: ...
