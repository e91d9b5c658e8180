"""e-conomic behind the ledger port (`lb_connectors.ledger`): `EconomicLedger` and `LEDGER_KIND`.

How each use case maps onto e-conomic's REST API:
- customers: found by a filter on the field the match key lives in (email, CVR, EAN, phone,
  name, number); created with the connection's group, terms and VAT zone from
  `CustomerDetails.options` (`customer_group`, `payment_terms`, `vat_zone`, `layout`).
- items: products read through the agreement's cache (group, barred); a new one created in
  the given product group. `item_tax_rates` follows product → group → sales account for the
  draft's VAT zone → VAT code (ledger_vat.py).
- documents: a draft invoice (`references.other` = our reference, Idempotency-Key derived from
  it), then booked; a credit note is a draft with negative quantities, booked the same way,
  copying the credited invoice's customer, recipient, layout and terms (`request.credited`).
  An EAN e-invoice is checked against e-conomic's preconditions and gets the buyer's reference
  person as a contact before the draft is made. Exactly once as `exactly_once.py` says: a first
  attempt looks nothing up; an earlier attempt's draft is read by its recorded number, else
  booked then drafts are searched by the reference; booking a draft that is gone looks the
  booked invoice up. A refusal naming a product, customer or layouts read from the cache before
  `request.read_before` drops them and is retried (`CachedDataRefused`); one naming a field
  filled from the shop is reworded to name the shop's field.
- payments: a customer payment voucher in a journal (`PaymentRequest.journal`) against the
  clearing (contra) account, its text ending in `[reference]`, looked up in the journal's
  entries when an earlier attempt's outcome is unknown (`posted_payments.py`).
- stock: the product list filtered by product number, 40 per call; `available` only for
  products whose group keeps inventory.
Reads of customers, products, layouts and accounting years go through the agreement's
`LedgerCache` (the call diet).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, SecretStr
from pydantic.alias_generators import to_snake

from lb_common.db import utcnow
from lb_common.errors import PermanentError
from lb_common.ledger_calls import agreement_key
from lb_common.money import round_2
from lb_common.normalise import normalise_text
from lb_connectors.call_retry import call_retry
from lb_connectors.economic import jsoncodec
from lb_connectors.economic.accounting_years import year_for
from lb_connectors.economic.cache import CachedDataRefused, LedgerCache
from lb_connectors.economic.client import MAX_PAGE_SIZE, EconomicClient
from lb_connectors.economic.customer_match import (
    ledger_customer_matches,
    ledger_filter,
    pick_ledger_match,
)
from lb_connectors.economic.einvoice import check_ean_preconditions
from lb_connectors.economic.errors import (
    EconomicValidationError,
    blame_shop_fields,
)
from lb_connectors.economic.exactly_once import draft_and_book, find_booked, find_draft
from lb_connectors.economic.filters import Field, or_
from lb_connectors.economic.journal_check import check_journal_takes
from lb_connectors.economic.ledger_vat import read_ledger_rates
from lb_connectors.economic.models import (
    AccountingYearRef,
    AccountRef,
    BookedInvoice,
    ContactCreate,
    ContactRef,
    CurrencyCodeRef,
    Customer,
    CustomerCreate,
    CustomerGroupRef,
    CustomerPaymentEntry,
    CustomerRef,
    Delivery,
    DeliveryLocation,
    DeliveryLocationCreate,
    DraftInvoice,
    DraftInvoiceCreate,
    InvoiceLine,
    JournalRef,
    LayoutRef,
    Notes,
    PaymentTerms,
    PaymentTermsRef,
    Product,
    ProductCreate,
    ProductGroupRef,
    ProductRef,
    Recipient,
    References,
    VatZoneRef,
    VoucherCreate,
    VoucherEntries,
)
from lb_connectors.economic.posted_payments import TEXT_LIMIT, find_posted
from lb_connectors.ledger.consent import ConsentContext, ConsentFlow
from lb_connectors.ledger.errors import LedgerNotFound, ShopField
from lb_connectors.ledger.models import (
    BookedDocumentLine,
    Choice,
    ContactPerson,
    CustomerChanges,
    CustomerDetails,
    CustomerOutcome,
    CustomerUpdate,
    DocumentKind,
    DocumentRequest,
    DocumentState,
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

log = logging.getLogger(__name__)

KIND = "economic"
READ_PER_CALL = 40  # products per filtered stock read: the filter stays a short URL
JUST_READ_SECONDS = 2.0  # how long a customer read by get_customer is "just read"


class EconomicCredentials(BaseModel):
    """An e-conomic agreement: the app's secret token and the agreement's grant token."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    base_url: str = "https://restapi.e-conomic.com"
    app_secret_token: SecretStr
    agreement_grant_token: SecretStr


def _number(value: str, what: str) -> int:
    """e-conomic's ids are numbers; a port id that is not one names a thing it cannot hold."""
    try:
        return int(value)
    except ValueError:
        raise LedgerNotFound(f"{what} {value!r} is not an e-conomic number") from None


def _option(options: dict[str, str], name: str, what: str) -> int:
    value = options.get(name)
    if value is None:
        raise PermanentError(
            f"e-conomic needs a {what} for a new customer; set `{name}` in the connection's "
            "customer settings"
        )
    return _number(value, what)


def _street(lines: tuple[str, ...]) -> str | None:
    return "\n".join(line for line in lines if line) or None


def neutral_customer(customer: Customer, read_at: dt.datetime | None = None) -> LedgerCustomer:
    number = str(customer.customer_number)
    return LedgerCustomer(
        id=number,
        number=number,
        name=customer.name,
        currency=customer.currency,
        email=customer.email,
        phones=tuple(p for p in (customer.telephone_and_fax_number, customer.mobile_phone) if p),
        vat_id=customer.corporate_identification_number,  # the CVR (vatNumber is foreign)
        ean=customer.ean,
        billing=PostalAddress(
            name=customer.name,
            lines=tuple((customer.address or "").splitlines()),
            zip=customer.zip,
            city=customer.city,
            country=customer.country,
        ),
        group=str(customer.customer_group.customer_group_number),
        payment_terms=str(customer.payment_terms.payment_terms_number),
        tax_zone=str(customer.vat_zone.vat_zone_number),
        layout=str(customer.layout.layout_number) if customer.layout else None,
        barred=bool(customer.barred),
        read_at=read_at or utcnow(),
    )


def _custom_field(options: dict[str, str]) -> dict[str, str]:
    """`custom_field` names a customer property that holds a shop value (`custom_value`)."""
    name, value = options.get("custom_field"), options.get("custom_value")
    return {to_snake(name): value} if name and value else {}


def customer_fields(changes: CustomerChanges) -> dict[str, Any]:
    """The port's changes as e-conomic customer fields (snake_case, for `update_customer`)."""
    fields: dict[str, Any] = {}
    for name, field in (
        ("name", "name"),
        ("email", "email"),
        ("phone", "telephone_and_fax_number"),
        ("vat_id", "corporate_identification_number"),
        ("ean", "ean"),
    ):
        if (value := getattr(changes, name)) is not None:
            fields[field] = value
    if changes.group is not None:
        fields["customer_group"] = {"customer_group_number": _number(changes.group, "group")}
    if changes.payment_terms is not None:
        fields["payment_terms"] = {
            "payment_terms_number": _number(changes.payment_terms, "payment terms")
        }
    if changes.tax_zone is not None:
        fields["vat_zone"] = {"vat_zone_number": _number(changes.tax_zone, "VAT zone")}
    billing = changes.billing
    if billing is not None:
        for field, value in (
            ("address", _street(billing.lines)),
            ("zip", billing.zip),
            ("city", billing.city),
            ("country", billing.country),
        ):
            if value:
                fields[field] = value
    return fields


def delivery_location(address: PostalAddress) -> dict[str, str]:
    values = {
        "address": _street(address.lines),
        "postal_code": address.zip,
        "city": address.city,
        "country": address.country,
    }
    return {k: v for k, v in values.items() if v}


def _same_location(existing: DeliveryLocation, location: dict[str, str]) -> bool:
    held = existing.model_dump()
    return all(
        (normalise_text(held.get(k)) or "").casefold() == v.casefold() for k, v in location.items()
    )


def neutral_document(
    document: BookedInvoice | DraftInvoice, kind: DocumentKind = "invoice"
) -> LedgerDocument:
    if isinstance(document, BookedInvoice):
        number, state = str(document.booked_invoice_number), cast(DocumentState, "booked")
        lines = tuple(
            BookedDocumentLine(
                item=line.product.product_number if line.product else None,
                quantity=line.quantity or Decimal(0),
                net_amount=line.total_net_amount,
                description=line.description,
                unit_net_price=line.unit_net_price,
            )
            for line in document.lines
        )
    else:
        number, state = str(document.draft_invoice_number), cast(DocumentState, "draft")
        lines = tuple(
            BookedDocumentLine(
                item=line.product.product_number if line.product else None,
                quantity=line.quantity or Decimal(0),
                description=line.description,
                unit_net_price=line.unit_net_price,
            )
            for line in document.lines
        )
    zero = Decimal("0.00")
    return LedgerDocument(
        kind=kind,
        id=number,
        number=number,
        state=state,
        reference=document.references.other if document.references else None,
        customer_id=str(document.customer.customer_number),
        currency=document.currency,
        date=document.date,
        net_amount=document.net_amount if document.net_amount is not None else zero,
        vat_amount=document.vat_amount if document.vat_amount is not None else zero,
        gross_amount=document.gross_amount if document.gross_amount is not None else zero,
        lines=lines,
        raw=document.model_dump(mode="json", by_alias=True, exclude_none=True),
        buyer_ean=document.recipient.ean if document.recipient else None,
    )


def stocked_available(product: Product | None) -> Decimal | None:
    """The product's available units, or None when it keeps no stock: no inventory module, or a
    product group without inventory (shipping, fees, services: `productGroup.inventoryEnabled`
    is false, even where the product still carries zeros)."""
    if product is None or product.inventory is None:
        return None
    if product.product_group.inventory_enabled is False:
        return None
    return product.inventory.available


def stock_level(product: Product) -> StockLevel:
    available = stocked_available(product)
    in_stock = product.inventory.in_stock if product.inventory else None
    return StockLevel(
        item=product.product_number,
        name=product.name,
        available=available,
        on_hand=in_stock if available is not None else None,
        barred=product.barred,
    )


def _terms_facts(terms: PaymentTerms) -> dict[str, str]:
    """What a settings screen (and the settings proposal) tells payment terms apart by."""
    facts = {}
    if terms.payment_terms_type:
        facts["type"] = terms.payment_terms_type
    if terms.days_of_credit is not None:
        facts["days_of_credit"] = str(terms.days_of_credit)
    return facts


class EconomicLedger:
    """The port over one agreement's `EconomicClient` (shared by its connections)."""

    def __init__(self, client: EconomicClient) -> None:
        self.client = client
        # Customers `get_customer` read from e-conomic (not the cache) just now, by number: an
        # update right after may PUT that read back instead of reading it again (the call diet).
        self._just_read: dict[int, float] = {}

    @property
    def kind(self) -> str:
        return KIND

    @property
    def has_drafts(self) -> bool:
        return True  # draft, then booked

    @property
    def cache(self) -> LedgerCache:
        return LedgerCache.of(self.client)

    # --- customers ------------------------------------------------------------------------

    async def find_customer(self, keys: Sequence[MatchKey]) -> CustomerOutcome | None:
        """One filtered list call per key (every spelling of the key in one filter), until a
        key finds a customer that really has its value (`customer_match.py`)."""
        for key in keys:
            query = ledger_filter(key)
            if query is None:
                continue
            candidates = await self.client.find_customers(query)
            number = pick_ledger_match(key, candidates)
            if number is None:
                continue
            if sum(ledger_customer_matches(key, c) for c in candidates) > 1:
                log.warning("several e-conomic customers match %s; %d wins", key.kind, number)
            customer = next(c for c in candidates if c.customer_number == number)
            self.cache.remember_customer(customer)  # it travels on in customer.resolved
            return CustomerOutcome(
                customer=neutral_customer(customer), created=False, matched_on=key
            )
        return None

    async def find_or_create_customer(
        self,
        keys: Sequence[MatchKey],
        details: CustomerDetails,
        *,
        idempotency_key: str,
        search_first: bool = True,
    ) -> CustomerOutcome:
        if search_first:
            found = await self.find_customer(keys)
            if found is not None:
                return found
        options = details.options
        billing = details.billing
        body = CustomerCreate(
            customer_number=_number(details.number, "customer number") if details.number else None,
            name=details.name[:255],
            currency=details.currency,
            customer_group=CustomerGroupRef(
                customer_group_number=_option(options, "customer_group", "customer group")
            ),
            payment_terms=PaymentTermsRef(
                payment_terms_number=_option(options, "payment_terms", "payment terms")
            ),
            vat_zone=VatZoneRef(vat_zone_number=_option(options, "vat_zone", "VAT zone")),
            layout=(
                LayoutRef(layout_number=_number(options["layout"], "layout"))
                if options.get("layout")
                else None
            ),
            email=details.email,
            telephone_and_fax_number=details.phone,
            corporate_identification_number=details.vat_id,
            ean=details.ean,
            address=_street(billing.lines) if billing else None,
            zip=billing.zip if billing else None,
            city=billing.city if billing else None,
            country=billing.country if billing else None,
            **_custom_field(options),
        )
        created = await self.client.create_customer(body, idempotency_key=idempotency_key)
        self.cache.remember_customer(created)
        return CustomerOutcome(customer=neutral_customer(created), created=True, matched_on=None)

    async def get_customer(
        self, customer_id: str, *, fresh: bool = False, known: LedgerCustomer | None = None
    ) -> LedgerCustomer | None:
        number = _number(customer_id, "customer")
        if fresh:
            self.cache.customers.forget(number)
        elif known is not None:
            # Kept until CUSTOMER_SECONDS after the other service read it (not at all if older).
            self.cache.remember_customer(customer_from_neutral(number, known), known.read_at)
        if self.cache.customers.entry(number) is None:
            self._forget_old_reads()
            self._just_read[number] = time.monotonic()
        customer = await self.cache.customer(self.client, number)
        if customer is None:
            return None
        entry = self.cache.customers.entry(number)
        return neutral_customer(customer, entry[1] if entry is not None else None)

    # --- items ----------------------------------------------------------------------------

    async def find_items(self, items: Sequence[str]) -> dict[str, LedgerItem]:
        """One read per product the agreement's cache does not hold."""
        found: dict[str, LedgerItem] = {}
        for number in items:
            product = await self.cache.product(self.client, number)
            if product is not None:
                found[number] = LedgerItem(
                    id=product.product_number,
                    name=product.name,
                    group=str(product.product_group.product_group_number),
                    barred=bool(product.barred),
                )
        return found

    async def create_item(self, details: ItemDetails, *, idempotency_key: str) -> LedgerItem:
        if details.group is None:
            raise PermanentError(
                f"e-conomic puts a new product in a product group; none was given for "
                f"product '{details.id}'"
            )
        created = await self.client.create_product(
            ProductCreate(
                product_number=details.id,
                name=details.name[:300],
                product_group=ProductGroupRef(
                    product_group_number=_number(details.group, "product group")
                ),
                sales_price=round_2(details.unit_net_price),
            ),
            idempotency_key=idempotency_key,
        )
        return LedgerItem(
            id=created.product_number,
            name=created.name,
            group=details.group,
            barred=bool(created.barred),
        )

    async def item_tax_rates(
        self, document: LedgerDocument, items: Sequence[str]
    ) -> dict[str, ItemTaxRate]:
        """product → group → the group's sales account for the document's VAT zone → its VAT
        code → the rate (ledger_vat.py); groups and VAT codes are read now."""
        zone = ((document.raw.get("recipient") or {}).get("vatZone") or {}).get("vatZoneNumber")
        if zone is None:
            return {}
        rates = await read_ledger_rates(self.client, set(items), int(zone))
        return {
            number: ItemTaxRate(item=number, rate=rate.rate, explanation=rate.explain())
            for number, rate in rates.items()
        }

    async def _current(self, number: int) -> Customer | None:
        """The customer as e-conomic holds it now, for a PUT of the whole record: the read
        `get_customer` made a moment ago, else a fresh one (never an older cached copy, which
        would undo a bookkeeper's later edit)."""
        read = self._just_read.pop(number, None)
        self._forget_old_reads()
        entry = self.cache.customers.entry(number)
        if read is not None and time.monotonic() - read < JUST_READ_SECONDS and entry is not None:
            return entry[0]
        return await self.client.get_customer(number)

    def _forget_old_reads(self) -> None:
        """Reads older than JUST_READ_SECONDS: dropped on every read and update, so the map
        holds the last seconds' reads, not one entry per customer ever read (a backlog)."""
        now = time.monotonic()
        self._just_read = {n: t for n, t in self._just_read.items() if now - t < JUST_READ_SECONDS}

    def known_customer(self, customer_id: str) -> LedgerCustomer | None:
        if not customer_id.isdigit():
            return None
        entry = self.cache.customers.entry(int(customer_id))
        return None if entry is None else neutral_customer(*entry)

    async def update_customer(
        self, customer_id: str, changes: CustomerChanges, *, idempotency_key: str
    ) -> CustomerUpdate:
        """A PUT of the customer as read just now with the changes merged in (e-conomic's PUT
        replaces the whole customer), and a delivery location for `changes.shipping` unless
        one has the same address."""
        number = _number(customer_id, "customer")
        done: list[str] = []
        fields = customer_fields(changes)
        customer = (
            await self._current(number)
            if fields
            else await self.cache.customer(self.client, number)
        )
        if customer is None:
            raise LedgerNotFound(f"e-conomic customer {customer_id} no longer exists")
        if fields:
            # Merged into the record as read: a bookkeeper's fields we do not own stay.
            customer = await self.client.update_customer(customer, fields)
            self.cache.remember_customer(customer)
        if changes.shipping is not None:
            location = delivery_location(changes.shipping)
            existing = await self.client.list_delivery_locations(number)
            if location and not any(_same_location(e, location) for e in existing):
                added = await self.client.create_delivery_location(
                    number,
                    DeliveryLocationCreate.model_validate(location),
                    idempotency_key=f"{idempotency_key}:delivery-location",
                )
                done.append(
                    f"Added delivery location {added.delivery_location_number} ({added.address})."
                )
        return CustomerUpdate(customer=neutral_customer(customer), done=tuple(done))

    async def list_customers(
        self, *, page_size: int | None = None
    ) -> AsyncIterator[LedgerCustomer]:
        async for customer in self.client.iter_customers(page_size=page_size or MAX_PAGE_SIZE):
            yield neutral_customer(customer)

    async def reference_data(self, *, items: int = 0) -> ReferenceData:
        async def first_products() -> list[Product]:
            found: list[Product] = []
            if items > 0:
                async for product in self.client.iter_products(page_size=min(items, 1000)):
                    if not product.barred:
                        found.append(product)
                    if len(found) > items:
                        break
            return found

        # At once: a settings screen waits for all of them.
        groups, terms, zones, layouts, currencies, journals = await asyncio.gather(
            self.client.list_customer_groups(),
            self.client.list_payment_terms(),
            self.client.list_vat_zones(),
            self.cache.layout_list(self.client),
            self.client.list_currencies(),
            self.client.list_journals(),
        )
        products = await first_products()
        return ReferenceData(
            customer_groups=tuple(
                Choice(id=str(g.customer_group_number), name=g.name) for g in groups
            ),
            payment_terms=tuple(
                Choice(id=str(t.payment_terms_number), name=t.name, facts=_terms_facts(t))
                for t in terms
            ),
            tax_zones=tuple(
                Choice(id=str(z.vat_zone_number), name=z.name)
                for z in zones
                if z.enabled_for_customer
            ),
            layouts=tuple(
                Choice(id=str(la.layout_number), name=la.name) for la in layouts if not la.deleted
            ),
            currencies=tuple(Choice(id=c.code, name=c.name or c.code) for c in currencies),
            journals=tuple(Choice(id=str(j.journal_number), name=j.name) for j in journals),
            items=tuple(Choice(id=p.product_number, name=p.name) for p in products[:items]),
            more_items=len(products) > items,
        )

    # --- documents ------------------------------------------------------------------------

    async def make_document(
        self, request: DocumentRequest | DocumentPlan, *, resume: Resume, on_draft: OnDraft
    ) -> LedgerDocument:
        plan = DocumentPlan.of(request)
        built: list[tuple[DocumentRequest, DraftInvoiceCreate]] = []

        async def build() -> tuple[DraftInvoiceCreate, str, str]:
            wanted = await plan.build()
            body = await self._draft_body(wanted)
            built.append((wanted, body))
            # Written once: for the key's digest and as the request's body.
            encoded = jsoncodec.dumps(body.to_json_body())
            if wanted.credited is not None:
                return body, f"{wanted.reference}:draft", encoded
            # The key names this body: a retry of the same body is answered from e-conomic's
            # idempotency store; a changed body (after a refusal) is a new request, which
            # e-conomic would refuse under the old key.
            digest = hashlib.sha256(encoded.encode()).hexdigest()
            return body, f"{wanted.reference}:draft:{digest[:16]}", encoded

        async def drafted(draft: DraftInvoice, new: bool) -> None:
            await on_draft(neutral_document(draft, plan.kind))

        def create_refused(exc: EconomicValidationError) -> BaseException:
            if built:
                wanted, body = built[-1]
                self._drop_refused_cached(exc, wanted, body)
                return blame_shop_fields(exc, _shop_paths(wanted.shop_fields))
            return exc

        def booking_refused(exc: EconomicValidationError) -> BaseException:
            # e.g. an e-invoice refused for its EAN; the request is at hand only when built now
            return blame_shop_fields(exc, _shop_paths(built[-1][0].shop_fields)) if built else exc

        document = await draft_and_book(
            self.client,
            plan.reference,
            earlier_attempt=resume.earlier_attempt,
            known_draft=_number(resume.draft_id, "draft") if resume.draft_id else None,
            build=build,
            on_draft=drafted,
            book=plan.book,
            send_by=plan.send_by,
            create_refused=create_refused,
            booking_refused=booking_refused,
        )
        assert document is not None  # build always gives a body
        return neutral_document(document, plan.kind)

    def _drop_refused_cached(
        self, exc: EconomicValidationError, request: DocumentRequest, body: DraftInvoiceCreate
    ) -> None:
        """A refusal that names a product, the customer or the layouts the draft was made with
        from an earlier read (read before `request.read_before`): drop it and retry (the retry
        reads it again). One read just now is refused for good."""
        before = request.read_before
        if before is None:
            return

        def earlier(entry: tuple[Any, dt.datetime] | None) -> bool:
            return entry is not None and entry[1] < before

        products = {
            i: line.product.product_number
            for i, line in enumerate(body.lines)
            if line.product and earlier(self.cache.products.entry(line.product.product_number))
        }
        number = body.customer.customer_number
        layouts_cached = earlier(self.cache.layouts.entry("all"))
        dropped = self.cache.forget_named_in(
            exc,
            products=products,
            customer=number if earlier(self.cache.customers.entry(number)) else None,
        )
        if not layouts_cached:
            dropped = [d for d in dropped if d != "layouts"]
        if dropped:
            raise CachedDataRefused(
                f"e-conomic refused the draft over {', '.join(dropped)}, known from an earlier "
                f"read ({exc.reason}); read again, retrying."
            ) from exc

    async def _draft_body(self, request: DocumentRequest) -> DraftInvoiceCreate:
        if request.credited is not None:
            return _credit_note_body(request, BookedInvoice.model_validate(request.credited.raw))
        customer = await self.cache.customer(self.client, _number(request.customer_id, "customer"))
        if customer is None:
            raise LedgerNotFound(f"e-conomic customer {request.customer_id} does not exist")
        options = request.options
        layout = (
            _number(options["layout"], "layout")
            if options.get("layout")
            else customer.layout.layout_number
            if customer.layout
            else None
        )
        if layout is None:
            layouts = await self.cache.layout_list(self.client)
            if not layouts:
                raise PermanentError("The e-conomic agreement has no invoice layout; create one.")
            layout = layouts[0].layout_number
        attention = None
        if request.send_by == "EAN":
            await check_ean_preconditions(
                self.client,
                customer,
                request.buyer_ean or "",
                request.order_name or request.reference,
            )
            attention = await self._reference_person(
                customer, request.contact or ContactPerson(name=customer.name)
            )
        terms = (
            _number(options["payment_terms"], "payment terms")
            if options.get("payment_terms")
            else customer.payment_terms.payment_terms_number
        )
        bill = request.bill_to
        # A bill_to with a name only (the order had no billing address) prints the customer's.
        address = bill if bill and (bill.lines or bill.zip or bill.city or bill.country) else None
        ship = request.ship_to
        sign = Decimal(-1) if request.kind == "credit_note" else Decimal(1)
        contact = ContactRef(customer_contact_number=attention) if attention else None
        return DraftInvoiceCreate(
            date=request.date,
            due_date=request.due_date,
            currency=request.currency,
            customer=CustomerRef(customer_number=customer.customer_number),
            layout=LayoutRef(layout_number=layout),
            payment_terms=PaymentTermsRef(payment_terms_number=terms),
            recipient=Recipient(
                name=(bill.name if bill and bill.name else customer.name)[:250],
                vat_zone=customer.vat_zone,
                address=_street(address.lines) if address else customer.address,
                zip=address.zip if address else customer.zip,
                city=address.city if address else customer.city,
                country=address.country if address else customer.country,
                ean=request.buyer_ean,
                nem_handel_type="ean" if request.buyer_ean else None,
                attention=contact,
            ),
            delivery=(
                Delivery(
                    address=_street(ship.lines), zip=ship.zip, city=ship.city, country=ship.country
                )
                if ship
                else None
            ),
            notes=(
                Notes(
                    heading=request.heading[:250] if request.heading else None,
                    text_line1=request.notes[:1000] if request.notes else None,
                )
                if request.heading or request.notes
                else None
            ),
            # Our reference is how a lost reply is found again: never change its place lightly.
            references=References(other=request.reference[:250], customer_contact=contact),
            lines=[
                InvoiceLine(
                    line_number=index,
                    sort_key=index,
                    product=ProductRef(product_number=line.item) if line.item else None,
                    description=line.description[:2500],
                    quantity=sign * line.quantity,
                    unit_net_price=line.unit_net_price,
                    discount_percentage=line.discount_percentage,
                )
                for index, line in enumerate(request.lines, start=1)
            ],
        )

    async def _reference_person(self, customer: Customer, person: ContactPerson) -> int:
        """The buyer's reference person as a contact on the customer (e-conomic sends an EAN
        invoice only with one on it): found by name, else created."""
        for contact in await self.client.list_contacts(customer.customer_number):
            if contact.name.casefold() == person.name.casefold():
                return contact.customer_contact_number
        created = await self.client.create_contact(
            customer.customer_number,
            ContactCreate(name=person.name[:255], email=person.email),
            idempotency_key=f"{customer.customer_number}:contact:{person.name}",
        )
        return created.customer_contact_number

    async def find_document(
        self, reference: str, *, kind: DocumentKind = "invoice", with_lines: bool = True
    ) -> LedgerDocument | None:
        booked = await find_booked(self.client, reference, with_lines=with_lines)
        return None if booked is None else neutral_document(booked, kind)

    async def find_draft(
        self, reference: str, *, draft_id: str | None = None, kind: DocumentKind = "invoice"
    ) -> LedgerDocument | None:
        known = _number(draft_id, "draft") if draft_id is not None else None
        draft = await find_draft(self.client, reference, known)
        return None if draft is None else neutral_document(draft, kind)

    async def delete_draft(self, draft_id: str) -> None:
        await self.client.delete_draft_invoice(_number(draft_id, "draft"), missing_ok=True)

    async def recorded_document(
        self, raw: dict[str, Any], *, kind: DocumentKind = "invoice"
    ) -> LedgerDocument:
        return neutral_document(BookedInvoice.model_validate(raw), kind)

    async def get_document(
        self, document_id: str, *, kind: DocumentKind = "invoice"
    ) -> LedgerDocument | None:
        booked = await self.client.get_booked_invoice(_number(document_id, "invoice"))
        return None if booked is None else neutral_document(booked, kind)

    # --- payments -------------------------------------------------------------------------

    async def register_payment(
        self, request: PaymentRequest, *, earlier_attempt: bool
    ) -> RegisteredPayment:
        if request.journal is None:
            raise PermanentError("e-conomic registers a payment in a journal; set its number")
        journal = _number(request.journal, "journal")
        invoice = _number(request.document_id, "invoice")
        if earlier_attempt:
            found = await find_posted(self.client, journal, request.reference, invoice)
            if found is not None and found.voucher is not None:
                posted_in = found.voucher.accounting_year
                year_key = posted_in.year if posted_in else str(found.date.year)
                return RegisteredPayment(
                    id=f"{year_key}-{found.voucher.voucher_number}",
                    document_id=request.document_id,
                    amount=abs(found.amount),
                    currency=found.currency.code if found.currency else request.currency,
                )
        years_cached = self.cache.accounting_years.get("all") is not None
        year = year_for(
            request.date,
            await self.cache.accounting_year_list(self.client),
            what=f"The payment of invoice {invoice}",
        )
        body = VoucherCreate(
            accounting_year=AccountingYearRef(year=year.year),
            journal=JournalRef(journal_number=journal),
            entries=VoucherEntries(
                customer_payments=[
                    CustomerPaymentEntry(
                        customer=CustomerRef(
                            customer_number=_number(request.customer_id, "customer")
                        ),
                        contra_account=AccountRef(
                            account_number=_number(request.clearing_account, "account")
                        ),
                        amount=-request.amount.quantize(Decimal("0.01")),
                        currency=CurrencyCodeRef(code=request.currency),
                        date=request.date,
                        text=_payment_text(request.text, request.reference),
                        customer_invoice=invoice,
                    )
                ]
            ),
        )
        await check_journal_takes(self.client, journal, "customerPayment")
        try:
            vouchers = await self.client.create_vouchers(
                journal,
                body,
                # The key names the intent: after a settings fix (another account) it is new.
                idempotency_key=f"{request.reference}:payment:{journal}:{request.clearing_account}",
            )
        except EconomicValidationError as exc:
            if years_cached and any(f.path.startswith("accountingYear") for f in exc.field_errors):
                self.cache.accounting_years.forget("all")
                raise CachedDataRefused(
                    f"e-conomic refused the payment's accounting year {year.year}, known from "
                    f"an earlier read ({exc.reason}); reading the years again, retrying."
                ) from exc
            raise
        return RegisteredPayment(
            id=f"{year.year}-{vouchers[0].voucher_number}",
            document_id=request.document_id,
            amount=request.amount.quantize(Decimal("0.01")),
            currency=request.currency,
        )

    # --- stock ----------------------------------------------------------------------------

    async def read_stock(self, items: Sequence[str]) -> dict[str, StockLevel]:
        """One call: the whole product list when it fits one page (1,000 products; every
        product's stock is returned, read fresh, not only those asked). Else one call per 40
        products: `productNumber$eq:A$or:productNumber$eq:B...` on the product list
        (e-conomic's `$in` takes numbers only, and product numbers are text)."""
        wanted = list(dict.fromkeys(items))
        if self.cache.whole_catalogue.get("products") is not False:
            products, whole = await self.cache.read_catalogue_page(self.client)
            if whole:
                return {product.product_number: stock_level(product) for product in products}
        found: dict[str, StockLevel] = {}
        for start in range(0, len(wanted), READ_PER_CALL):
            chunk = wanted[start : start + READ_PER_CALL]
            query = or_(*(Field("productNumber").eq(number) for number in chunk))
            async for product in self.client.iter_products(filter=query):
                if product.product_number in chunk:  # string filters ignore case: exact only
                    found[product.product_number] = stock_level(product)
        return found

    async def read_catalogue(self) -> list[StockLevel]:
        return [stock_level(product) async for product in self.client.iter_products()]

    async def aclose(self) -> None:
        await self.client.aclose()


def _credit_note_body(request: DocumentRequest, invoice: BookedInvoice) -> DraftInvoiceCreate:
    """A credit note is a draft invoice with negative quantities (there is no type field), to
    the credited invoice's customer, with its recipient, layout and payment terms."""
    if invoice.recipient is None or invoice.layout is None or invoice.payment_terms is None:
        raise ValueError("the booked invoice lacks recipient, layout or payment terms")
    return DraftInvoiceCreate(
        date=request.date,
        # Needed with payment terms of type dueDate, ignored (derived) with every other type.
        due_date=request.due_date or request.date,
        currency=invoice.currency,
        customer=invoice.customer,
        layout=invoice.layout,
        payment_terms=PaymentTermsRef(
            payment_terms_number=invoice.payment_terms.payment_terms_number
        ),
        recipient=invoice.recipient,
        notes=Notes(
            heading=(request.heading or "Credit note")[:250],
            text_line1=f"Credits invoice {invoice.booked_invoice_number}",
        ),
        references=References(other=request.reference[:250]),
        lines=[
            InvoiceLine(
                line_number=i,
                sort_key=i,
                description=line.description,
                product=ProductRef(product_number=line.item) if line.item else None,
                quantity=-line.quantity,
                unit_net_price=line.unit_net_price,
            )
            for i, line in enumerate(request.lines, start=1)
        ],
    )


def _payment_text(text: str, reference: str) -> str:
    """The entry's text, ending with our reference in brackets, which the lookup of an earlier
    attempt finds it by (kept whole; the readable part is cut if need be)."""
    tag = f"[{reference}]"
    readable = text.removesuffix(tag).rstrip()
    return f"{readable[: max(0, TEXT_LIMIT - len(tag) - 1)]} {tag}"[-TEXT_LIMIT:]


# The port's neutral paths of shop-filled values → e-conomic's field paths in a draft.
_SHOP_PATHS = {"buyer_ean": "recipient.ean"} | {
    f"{side}.{name}": f"{economic}.{name}"
    for side, economic in (("bill_to", "recipient"), ("ship_to", "delivery"))
    for name in ("address", "zip", "city", "country")
}


def _shop_paths(fields: dict[str, ShopField]) -> dict[str, ShopField]:
    return {_SHOP_PATHS[path]: field for path, field in fields.items() if path in _SHOP_PATHS}


def customer_from_neutral(number: int, customer: LedgerCustomer) -> Customer:
    """The e-conomic customer as another service read it (customer.resolved carried it)."""
    billing = customer.billing
    return Customer(
        customer_number=number,
        name=customer.name,
        currency=customer.currency or "",
        customer_group=CustomerGroupRef(customer_group_number=int(customer.group or 0)),
        payment_terms=PaymentTermsRef(payment_terms_number=int(customer.payment_terms or 0)),
        vat_zone=VatZoneRef(vat_zone_number=int(customer.tax_zone or 0)),
        layout=LayoutRef(layout_number=int(customer.layout)) if customer.layout else None,
        email=customer.email,
        corporate_identification_number=customer.vat_id,
        ean=customer.ean,
        address="\n".join(billing.lines) or None if billing else None,
        zip=billing.zip if billing else None,
        city=billing.city if billing else None,
        country=billing.country if billing else None,
    )


def _open(credentials: BaseModel, context: AdapterContext) -> EconomicLedger:
    assert isinstance(credentials, EconomicCredentials)
    grant = credentials.agreement_grant_token.get_secret_value()
    agreement = agreement_key(credentials.base_url, grant)
    return EconomicLedger(
        EconomicClient(
            credentials.base_url,
            credentials.app_secret_token.get_secret_value(),
            grant,
            transport=context.transport,
            retry=call_retry(context.settings),
            post_replay=context.settings.economic_post_replay,
            on_call=context.tally.counter_for(agreement) if context.tally is not None else None,
        )
    )


def _pool_key(credentials: BaseModel) -> tuple[str, ...]:
    assert isinstance(credentials, EconomicCredentials)
    return (
        credentials.base_url,
        credentials.agreement_grant_token.get_secret_value(),
        credentials.app_secret_token.get_secret_value(),
    )


def _consent(context: ConsentContext) -> ConsentFlow:
    from lb_connectors.economic.consent import EconomicInstallation

    return EconomicInstallation(context)


LEDGER_KIND = LedgerKind(
    kind=KIND,
    label="e-conomic",
    credentials=EconomicCredentials,
    open=_open,
    pool_key=_pool_key,
    consent=_consent,
)

__all__ = ["LEDGER_KIND", "EconomicCredentials", "EconomicLedger"]
