"""One booked invoice per order, even when a reply from the ledger is lost.

The steps, each recorded in our database before the next call:

1. intent: the link row exists (order key, customer) before anything is created.
2. Only when the intent was there before this attempt (an earlier attempt's outcome is unknown:
   it crashed, or a reply was lost): resume from the step it recorded. At `drafted`, read the
   draft by its number: still there, it is not booked (booking removes a draft), and nothing
   else is looked up. Else look up the ledger by the order key (`references.other`) among
   booked invoices, then drafts, as it may have got further than our records say. A first
   attempt cannot have left a document behind, as nothing is sent before its intent is
   committed; it skips the lookups.
3. Create the draft (with an Idempotency-Key derived from the order key) → step drafted.
4. Compare the ledger's total and VAT with the shop's (totals_check.py); a difference above
   the tolerance stops here and leaves the draft for a bookkeeper.
   Products, the customer and layouts come from the agreement's cache
   (`lb_connectors.economic.cache`), the customer from customer.resolved when customers read it
   just now; a refusal naming a cached one drops it and the message is retried.
5. Book it (Idempotency-Key again). If booking fails because the draft is gone, look the booked
   invoice up by the order key before giving up.
6. Step booked, `invoice.booked` and the timeline entry, in one transaction.
7. Orders paid up front, when the settings ask: the payment registered against the invoice in a
   journal (Idempotency-Key again), its voucher recorded on the link; replay retries only this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common import connection_settings
from lb_common.db import utcnow
from lb_common.errors import PermanentError
from lb_common.events import (
    BookedLine,
    CustomerResolved,
    InvoiceBooked,
    MatchEvidence,
    ResolvedCustomer,
)
from lb_common.failpoints import failpoint
from lb_common.identifiers import normalise_ean
from lb_common.money import ZERO, round_2
from lb_common.orders import CanonicalOrder
from lb_common.unit_of_work import Sessions, UnitOfWork
from lb_common.vat_treatment import destination_country, order_vat_treatment
from lb_connectors.economic.accounting_years import year_for
from lb_connectors.economic.cache import CUSTOMER_SECONDS, CachedDataRefused, LedgerCache
from lb_connectors.economic.client import EconomicClient
from lb_connectors.economic.einvoice import check_ean_preconditions
from lb_connectors.economic.errors import (
    EconomicError,
    EconomicValidationError,
    blame_shop_fields,
)
from lb_connectors.economic.exactly_once import draft_and_book
from lb_connectors.economic.journal_check import check_journal_takes
from lb_connectors.economic.ledger import neutral_customer
from lb_connectors.economic.ledger_vat import read_ledger_rates
from lb_connectors.economic.models import (
    AccountingYearRef,
    AccountRef,
    BookedInvoice,
    ContactCreate,
    CurrencyCodeRef,
    Customer,
    CustomerPaymentEntry,
    CustomerRef,
    DraftInvoice,
    DraftInvoiceCreate,
    JournalRef,
    ProductCreate,
    ProductGroupRef,
    VoucherCreate,
    VoucherEntries,
)
from lb_connectors.economic.posted_payments import find_posted, payment_text
from lb_connectors.ledgers import LedgerDirectory
from lb_invoicing import store
from lb_invoicing.documents import (
    customer_from_resolved,
    draft_body,
    draft_key,
    line_products,
    recipient_ean,
    shop_fields,
)
from lb_invoicing.lines import InvoicePlan, plan_invoice, products_needed
from lb_invoicing.order_lease import OrderLeases
from lb_invoicing.policy import InvoiceSettings, PaymentRegistration
from lb_invoicing.same_buyer import other_buyers_detail
from lb_invoicing.store import InvoiceConnectionSettings, InvoiceLink
from lb_invoicing.totals_check import check_against_shop, totals_differ
from lb_invoicing.vat_routing import route_plan, route_products

SERVICE = "invoicing"


@dataclass(frozen=True)
class Context:
    uow: UnitOfWork
    order: CanonicalOrder
    customer_number: int
    client: EconomicClient
    matched_on: MatchEvidence | None = None
    carried: ResolvedCustomer | None = None  # the customer as customers read it, if it did

    @property
    def cache(self) -> LedgerCache:
        return LedgerCache.of(self.client)

    @property
    def connection(self) -> str:
        return self.uow.message.connection


async def handle_customer_resolved(
    event: CustomerResolved, uow: UnitOfWork, *, ledgers: LedgerDirectory, orders: OrderLeases
) -> None:
    await orders.run_alone(event.order.order_key, "the invoice", lambda: _book(event, uow, ledgers))


async def _book(event: CustomerResolved, uow: UnitOfWork, ledgers: LedgerDirectory) -> None:
    connection = uow.message.connection
    settings = await load_settings(uow, connection)
    ctx = Context(
        uow,
        invoice_version(event.order, settings),
        # The link's column is e-conomic's number (its API shows it); the event's id is text.
        int(event.customer_number),
        ledgers.for_connection(connection),
        event.matched_on,
        event.customer,
    )
    link, earlier_attempt = await _link_with_intent(ctx)
    failpoint("invoicing.after_intent")
    registration = payment_due(ctx.order, settings, link)
    if link.step == store.BOOKED:
        # Booked before; the payment step may have failed after it (then only it runs again).
        paid = await _post_payment(ctx, link, registration) if registration else None
        async with uow.commit() as session:
            if registration is not None and paid is not None:
                await _record_payment(session, ctx, registration, paid)
            _already_booked(ctx, link)
        return

    made = Made()
    # Steps 2-5: the e-conomic adapter's draft → booked, with our steps in the callbacks.
    document = await draft_and_book(
        ctx.client,
        ctx.order.order_key,
        earlier_attempt=earlier_attempt,
        known_draft=link.draft_invoice_number,
        build=lambda: _new_draft(ctx, settings, made, retry=earlier_attempt),
        on_draft=lambda draft, new: _drafted(ctx, settings, made, draft, new=new),
        book=settings.book,
        send_by=send_by(ctx.order, settings),
        create_refused=lambda exc: _create_refused(ctx, exc, made),
        # e.g. an e-invoice refused for its EAN
        booking_refused=lambda exc: blame_shop_fields(exc, shop_fields(ctx.order)),
    )
    assert document is not None  # an invoice always has lines to draft
    if isinstance(document, DraftInvoice):  # the connection creates drafts only
        async with uow.commit():
            _leave_as_draft(ctx, document)
        return
    booked = document
    if made.drafted:  # booked just now, not found booked by an earlier attempt
        failpoint("invoicing.after_booked")
    sent_by = send_by(ctx.order, settings)
    if registration is None:
        async with uow.commit() as session:
            await _record_booked(session, ctx, booked, sent_by=sent_by)
        return
    # Booked, then the payment: the booked step is durable before the journal is called, so a
    # failed payment is retried (or replayed) on its own.
    async with uow.transaction() as session:
        link = await _record_booked(session, ctx, booked, sent_by=sent_by)
    paid = await _post_payment(ctx, link, registration)
    async with uow.commit() as session:
        await _record_payment(session, ctx, registration, paid)


def invoice_version(order: CanonicalOrder, settings: InvoiceSettings) -> CanonicalOrder:
    """The order with the amounts the invoice is in: the shop's, or the buyer's currency."""
    if settings.amounts == "shop":
        return order
    if order.presentment is not None:
        return order.presentment
    if order.presentment_currency not in (None, order.currency):
        raise PermanentError(
            f"The connection invoices in the buyer's currency, but order {order.order_name} "
            f"has no amounts in {order.presentment_currency} (only the shop's "
            f"{order.currency}). Invoice it in shop currency (amounts: shop), or fix the order."
        )
    return order


def send_by(order: CanonicalOrder, settings: InvoiceSettings) -> str | None:
    """EAN buyers get an e-invoice (OIOUBL through e-conomic's NemHandel), when switched on."""
    buyer = order.buyer
    if (
        settings.ean_einvoice
        and buyer is not None
        and buyer.customer_type == "ean"
        and normalise_ean(buyer.ean)
    ):
        return "EAN"
    return None


async def load_settings(db: Sessions, connection: str) -> InvoiceSettings:
    return await connection_settings.load_settings(
        db, InvoiceConnectionSettings, InvoiceSettings, connection
    )


async def _link_with_intent(ctx: Context) -> tuple[InvoiceLink, bool]:
    """The order's link, with its intent recorded; and whether an earlier attempt recorded it
    (so what that attempt did in the ledger is unknown and must be looked up)."""
    async with ctx.uow.transaction() as session:
        link = await session.get(InvoiceLink, ctx.order.order_key)
        earlier_attempt = link is not None
        if link is None:
            link = InvoiceLink(
                order_key=ctx.order.order_key,
                connection=ctx.connection,
                step=store.INTENT,
                customer_number=ctx.customer_number,
                currency=ctx.order.currency,
                taxes_included=ctx.order.taxes_included,
            )
            session.add(link)
        elif link.step == store.INTENT and link.customer_number != ctx.customer_number:
            # Resolved again (a replay) before anything was made: the new customer counts.
            link.customer_number = ctx.customer_number
            link.updated_at = utcnow()
            session.add(link)
        return link, earlier_attempt


@dataclass
class Made:
    """What this attempt made on its way to the draft: the plan and body of a new draft, what
    of it came from the cache, and whether a draft was seen (so booking happened now)."""

    plan: InvoicePlan | None = None
    body: DraftInvoiceCreate | None = None
    cached: FromCache | None = None
    drafted: bool = False


async def _new_draft(
    ctx: Context, settings: InvoiceSettings, made: Made, *, retry: bool
) -> tuple[DraftInvoiceCreate, str]:
    """3. A new draft's body and key (none was left by an earlier attempt)."""
    recipient_ean(ctx.order)  # a mistyped EAN stops here, before anything is made
    # A retry judges the customer on a fresh read: the ledger may have changed under a
    # message that waited (see same_buyer.py); a first attempt uses what customers read.
    plan, layout, customer, cached = await _plan(ctx, settings, fresh_customer=retry)
    einvoice = send_by(ctx.order, settings) == "EAN"
    if einvoice:
        await check_ean_preconditions(
            ctx.client, customer, recipient_ean(ctx.order) or "", ctx.order.order_name
        )
    body = draft_body(
        ctx.order,
        customer,
        plan,
        layout,
        settings.payment_terms,
        attention=await _reference_person(ctx, customer) if einvoice else None,
        due_days=settings.due_days,
    )
    made.plan, made.body, made.cached = plan, body, cached
    return body, draft_key(ctx.order.order_key, body)


def _create_refused(ctx: Context, exc: EconomicValidationError, made: Made) -> BaseException:
    assert made.body is not None and made.cached is not None
    _drop_refused_cached(ctx, exc, made.body, made.cached)
    return blame_shop_fields(exc, shop_fields(ctx.order))


async def _drafted(
    ctx: Context, settings: InvoiceSettings, made: Made, draft: DraftInvoice, *, new: bool
) -> None:
    """The draft exists (made just now, or `new` False: left by an earlier attempt, judged
    without its plan): step drafted, then the totals check before it is booked."""
    if new:
        failpoint("invoicing.after_draft_created")
    made.drafted = True
    plan = made.plan if new else None
    # The step and, for a new draft, its timeline entry: one transaction before the booking.
    async with ctx.uow.transaction() as session:
        stored = await session.get(InvoiceLink, ctx.order.order_key)
        assert stored is not None
        stored.step = store.DRAFTED
        stored.draft_invoice_number = draft.draft_invoice_number
        stored.updated_at = utcnow()
        session.add(stored)
        if plan is not None:
            _add_progress(
                ctx,
                "invoice.drafted",
                f"Draft invoice {draft.draft_invoice_number} created with {len(plan.lines)} lines.",
                {"draft_invoice_number": draft.draft_invoice_number, "notes": list(plan.notes)},
            )
    # 4. Before booking: e-conomic's totals against the shop's; where they differ, line by line
    # at the rates e-conomic's VAT setup gives (read only then).
    rates = None
    if plan is not None and totals_differ(ctx.order, draft, tolerance=settings.tolerance):
        try:
            rates = await read_ledger_rates(
                ctx.client,
                {line.product_number for line in plan.lines},
                draft.recipient.vat_zone.vat_zone_number,
            )
        except EconomicError:
            rates = None  # the figures are still given, without the ledger's rates
    check_against_shop(
        ctx.order, draft, tolerance=settings.tolerance, plan=plan, ledger_rates=rates
    )


@dataclass(frozen=True)
class FromCache:
    """What a draft was planned with that came from the cache rather than a read just now."""

    products: frozenset[str]
    customer: bool
    layouts: bool


async def _plan(
    ctx: Context, settings: InvoiceSettings, *, fresh_customer: bool
) -> tuple[InvoicePlan, int, Customer, FromCache]:
    # First: it may not be the buyer any more.
    customer, customer_cached = await _customer(ctx, fresh=fresh_customer)
    known = set()
    cached_products = set()
    groups: dict[str, int] = {}
    for number in products_needed(ctx.order, settings) | route_products(settings.vat_routes):
        if ctx.cache.products.get(number) is not None:
            cached_products.add(number)
        product = await ctx.cache.product(ctx.client, number)
        if product is not None and not product.barred:
            known.add(number)
            groups[number] = product.product_group.product_group_number
        elif product is None and settings.unknown_product == "create":
            known.add(await _create_product(ctx, number, settings))
            groups[number] = settings.new_product_group
    for route in settings.vat_routes:
        if route.product is not None and route.product not in known:
            raise PermanentError(
                f"Product '{route.product}' of the VAT route for {route.treatment}"
                f"{f' {route.country}' if route.country else ''} (invoicing settings) is not "
                "in e-conomic, or is barred. Create it in a product group whose sales account "
                "books that VAT, or change the route, then replay."
            )
    plan = route_plan(
        plan_invoice(ctx.order, settings, frozenset(known)),
        settings.vat_routes,
        order_vat_treatment(ctx.order, settings.home_country),
        destination_country(ctx.order),
        groups,
    )
    layout = settings.layout or (customer.layout.layout_number if customer.layout else None)
    layouts_cached = False
    if layout is None:
        layouts_cached = ctx.cache.layouts.get("all") is not None
        layouts = await ctx.cache.layout_list(ctx.client)
        if not layouts:
            raise PermanentError("The e-conomic agreement has no invoice layout; create one.")
        layout = layouts[0].layout_number
    return (
        plan,
        layout,
        customer,
        FromCache(frozenset(cached_products & known), customer_cached, layouts_cached),
    )


def _drop_refused_cached(
    ctx: Context, exc: EconomicValidationError, body: DraftInvoiceCreate, cached: FromCache
) -> None:
    """A refusal that names a product, the customer or the layout we had from the cache: drop
    it and retry (the retry reads it again). One read just now is refused for good."""
    products = {i: n for i, n in line_products(body).items() if n in cached.products}
    dropped = ctx.cache.forget_named_in(
        exc,
        products=products,
        customer=ctx.customer_number if cached.customer else None,
    )
    if not cached.layouts:
        dropped = [d for d in dropped if d != "layouts"]
    if dropped:
        raise CachedDataRefused(
            f"e-conomic refused the draft over {', '.join(dropped)}, known from an earlier read "
            f"({exc.reason}); read again, retrying."
        ) from exc


async def _create_product(ctx: Context, number: str, settings: InvoiceSettings) -> str:
    """Create a product the shop sells but the ledger lacks (unknown_product = create)."""
    line = next((item for item in ctx.order.lines if item.sku == number), None)
    if line is None:  # a configured product (shipping, default, ...): never invented
        raise PermanentError(
            f"Product '{number}' from the invoicing settings is not in e-conomic. Create it, then replay."
        )
    price = line.unit_price - (line.tax / line.quantity if ctx.order.taxes_included else 0)
    created = await ctx.client.create_product(
        ProductCreate(
            product_number=number,
            name=line.title[:300],
            product_group=ProductGroupRef(product_group_number=settings.new_product_group),
            sales_price=round_2(price),
        ),
        idempotency_key=f"{ctx.connection}:product:{number}",
    )
    await _progress(
        ctx,
        "product.created",
        f"Product {number} '{created.name}' created in e-conomic (group "
        f"{settings.new_product_group}, price {created.sales_price}).",
        {"product_number": number},
    )
    return created.product_number


async def _reference_person(ctx: Context, customer: Customer) -> int:
    """The buyer's reference person as a contact on the customer (e-conomic sends an EAN
    invoice only with one on it): found by name, else created."""
    buyer = ctx.order.buyer
    billing = ctx.order.billing_address
    name = (
        (buyer.full_name if buyer else "")
        or (billing.name if billing else None)
        or (buyer.email if buyer else None)
        or customer.name
    )
    for contact in await ctx.client.list_contacts(customer.customer_number):
        if contact.name.casefold() == name.casefold():
            return contact.customer_contact_number
    created = await ctx.client.create_contact(
        customer.customer_number,
        ContactCreate(name=name[:255], email=buyer.email if buyer else None),
        idempotency_key=f"{ctx.connection}:{customer.customer_number}:contact:{name}",
    )
    return created.customer_contact_number


async def _customer(ctx: Context, *, fresh: bool) -> tuple[Customer, bool]:
    """The customer, and whether it came from the cache (or customer.resolved) rather than a
    read just now (`fresh`: always a read just now)."""
    carried = ctx.carried
    if fresh:
        ctx.cache.customers.forget(ctx.customer_number)
    elif carried is not None and utcnow() - carried.read_at < timedelta(seconds=CUSTOMER_SECONDS):
        ctx.cache.remember_customer(
            customer_from_resolved(ctx.customer_number, carried), carried.read_at
        )
    cached = ctx.cache.customers.get(ctx.customer_number) is not None
    customer = await ctx.cache.customer(ctx.client, ctx.customer_number)
    if (
        cached
        and customer is not None
        and other_buyers_detail(ctx.matched_on, neutral_customer(customer))
    ):
        ctx.cache.customers.forget(ctx.customer_number)  # judged on a fresh read, not the cache
        customer, cached = await ctx.cache.customer(ctx.client, ctx.customer_number), False
    if customer is None:
        raise PermanentError(
            f"e-conomic customer {ctx.customer_number} no longer exists. Re-link the buyer "
            "in the customers service, then replay the order."
        )
    others = other_buyers_detail(ctx.matched_on, neutral_customer(customer))
    if others is not None and ctx.matched_on is not None:
        buyer = ctx.order.buyer
        name = (buyer.full_name or buyer.company) if buyer else None
        key = f"{ctx.matched_on.kind}:{ctx.matched_on.value}"
        raise PermanentError(
            f"e-conomic customer {ctx.customer_number} is now '{customer.name}' ({others}), but "
            f"order {ctx.order.order_name} was resolved to customer {ctx.customer_number} for "
            f"'{name or ctx.matched_on.value}' ({ctx.matched_on.value}): the number now belongs "
            "to someone else, or their details were changed in e-conomic. Nothing was drafted. "
            f"If it is someone else, remove the buyer's link (DELETE /links/"
            f"{ctx.connection}/{key} on customers) and replay the order: the buyer is "
            f"found or created again. If it is the same buyer, confirm the link (PUT /links/"
            f"{ctx.connection}/{key} with customer_number {ctx.customer_number}) and "
            "replay the order."
        )
    return customer, cached


async def _record_booked(
    session: AsyncSession, ctx: Context, booked: BookedInvoice, *, sent_by: str | None
) -> InvoiceLink:
    """6. Step booked, `invoice.booked` and the timeline entry (in the caller's transaction)."""
    lines = tuple(
        BookedLine(
            sku=line.product.product_number if line.product else None,
            product_number=line.product.product_number if line.product else "",
            quantity=line.quantity or ZERO,
        )
        for line in booked.lines
        if line.product is not None
    )
    link = await session.get(InvoiceLink, ctx.order.order_key)
    assert link is not None
    link.step = store.BOOKED
    link.booked_invoice_number = booked.booked_invoice_number
    link.currency = booked.currency  # the invoice's, which `amounts` may have made the buyer's
    link.net_amount = str(booked.net_amount)
    link.vat_amount = str(booked.vat_amount)
    link.gross_amount = str(booked.gross_amount)
    link.invoice_date = booked.date
    link.document = booked.model_dump(mode="json", by_alias=True, exclude_none=True)
    link.updated_at = utcnow()
    session.add(link)
    ctx.uow.emit(
        InvoiceBooked(
            order_key=ctx.order.order_key,
            customer_number=str(booked.customer.customer_number),
            draft_invoice_number=(
                str(link.draft_invoice_number) if link.draft_invoice_number is not None else None
            ),
            booked_invoice_number=str(booked.booked_invoice_number),
            currency=booked.currency,
            net_amount=booked.net_amount,
            gross_amount=booked.gross_amount,
            lines=lines,
        ),
        order_key=ctx.order.order_key,
    )
    _add_progress(
        ctx,
        "invoice.booked",
        f"Invoice {booked.booked_invoice_number} booked: {booked.currency} "
        f"{booked.gross_amount} incl. VAT {booked.vat_amount}.",
        {
            "booked_invoice_number": booked.booked_invoice_number,
            "customer_number": booked.customer.customer_number,
        },
    )
    if sent_by == "EAN":
        # e-conomic sends it through NemHandel when booking with sendBy EAN.
        buyer = ctx.order.buyer
        _add_progress(
            ctx,
            "einvoice.sent",
            f"Invoice {booked.booked_invoice_number} sent as an e-invoice (OIOUBL through "
            f"NemHandel) to EAN {buyer.ean if buyer else '?'}.",
            {"booked_invoice_number": booked.booked_invoice_number, "send_by": sent_by},
        )
    return link


def payment_due(
    order: CanonicalOrder, settings: InvoiceSettings, link: InvoiceLink
) -> PaymentRegistration | None:
    """The payment registration to make for this order, if the settings ask for one, the order
    was paid up front, and it was not registered yet."""
    registration = settings.payment_registration
    if registration is None or order.financial_status not in registration.paid_statuses:
        return None
    if link.payment_voucher:
        return None
    return registration


def payment_voucher(
    order: CanonicalOrder, link: InvoiceLink, registration: PaymentRegistration, year: str
) -> VoucherCreate:
    """7. The journal voucher registering an up-front payment against the booked invoice: one
    customer payment, credited to the customer and debited to the posting (suspense) account,
    in accounting year `year` (e-conomic's key of the open year holding the invoice date)."""
    assert link.booked_invoice_number is not None
    assert link.invoice_date is not None and link.gross_amount is not None
    document = link.document or {}
    customer = (document.get("customer") or {}).get("customerNumber", link.customer_number)
    currency = document.get("currency") or link.currency or order.currency
    return VoucherCreate(
        accounting_year=AccountingYearRef(year=year),
        journal=JournalRef(journal_number=registration.journal),
        entries=VoucherEntries(
            customer_payments=[
                CustomerPaymentEntry(
                    customer=CustomerRef(customer_number=customer),
                    contra_account=AccountRef(account_number=registration.contra_account),
                    amount=-Decimal(link.gross_amount).quantize(Decimal("0.01")),
                    currency=CurrencyCodeRef(code=currency),
                    date=link.invoice_date,
                    text=payment_text(order.order_name, order.payment_gateways, order.order_key),
                    customer_invoice=link.booked_invoice_number,
                )
            ]
        ),
    )


@dataclass(frozen=True)
class PostedPayment:
    """A payment the ledger's journal holds now, for the record."""

    voucher: str  # "<accounting year>-<voucher number>"
    currency: str
    amount: Decimal  # paid, positive
    booked_invoice_number: int


async def _post_payment(
    ctx: Context, link: InvoiceLink, registration: PaymentRegistration
) -> PostedPayment:
    """The voucher in the ledger's journal. Exactly once: the link's payment_voucher once it is
    recorded; before that, the mark that a post was attempted, and then a lookup of the
    journal's entries by the order key in their text (posted_payments.py)."""
    assert link.booked_invoice_number is not None and link.invoice_date is not None
    if link.payment_attempted:
        found = await find_posted(
            ctx.client, registration.journal, ctx.order.order_key, link.booked_invoice_number
        )
        if found is not None and found.voucher is not None:
            posted_in = found.voucher.accounting_year
            year_key = posted_in.year if posted_in else str(found.date.year)
            return PostedPayment(
                voucher=f"{year_key}-{found.voucher.voucher_number}",
                currency=found.currency.code if found.currency else link.currency or "",
                amount=abs(found.amount),
                booked_invoice_number=link.booked_invoice_number,
            )
    years_cached = ctx.cache.accounting_years.get("all") is not None
    year = year_for(
        link.invoice_date,
        await ctx.cache.accounting_year_list(ctx.client),
        what=f"The payment of invoice {link.booked_invoice_number}",
    )
    body = payment_voucher(ctx.order, link, registration, year.year)
    if not link.payment_attempted:
        async with ctx.uow.transaction() as session:
            stored = await session.get(InvoiceLink, ctx.order.order_key)
            assert stored is not None
            stored.payment_attempted = True
            session.add(stored)
    try:
        await check_journal_takes(ctx.client, registration.journal, "customerPayment")
        vouchers = await ctx.client.create_vouchers(
            registration.journal,
            body,
            # The key names the intent: after a settings fix (another account) it is a new one.
            idempotency_key=(
                f"{ctx.order.order_key}:payment:{registration.journal}:{registration.contra_account}"
            ),
        )
    except EconomicValidationError as exc:
        if years_cached and any(f.path.startswith("accountingYear") for f in exc.field_errors):
            ctx.cache.accounting_years.forget("all")
            raise CachedDataRefused(
                f"e-conomic refused the payment's accounting year {year.year}, known from an "
                f"earlier read ({exc.reason}); reading the years again, retrying."
            ) from exc
        raise _payment_refused(link, registration, exc) from exc
    except PermanentError as exc:
        raise _payment_refused(link, registration, exc) from exc
    failpoint("invoicing.after_payment_posted")
    [entry] = body.entries.customer_payments
    return PostedPayment(
        voucher=f"{body.accounting_year.year}-{vouchers[0].voucher_number}",
        currency=entry.currency.code if entry.currency else ctx.order.currency,
        amount=-entry.amount,
        booked_invoice_number=link.booked_invoice_number,
    )


def _payment_refused(
    link: InvoiceLink, registration: PaymentRegistration, exc: PermanentError
) -> PermanentError:
    return PermanentError(
        f"Invoice {link.booked_invoice_number} is booked, but its payment could not be "
        f"registered in journal {registration.journal} against account "
        f"{registration.contra_account}: {exc.reason}. Check that account "
        f"{registration.contra_account} exists and accepts direct entries, and that journal "
        f"{registration.journal} takes customer payments (or change the payment registration "
        "settings), then replay the order: only the payment is registered again.",
        detail=exc.detail,
    )


async def _record_payment(
    session: AsyncSession, ctx: Context, registration: PaymentRegistration, paid: PostedPayment
) -> None:
    """The voucher on the link and the timeline entry (in the caller's transaction)."""
    stored = await session.get(InvoiceLink, ctx.order.order_key)
    assert stored is not None
    stored.payment_voucher = paid.voucher
    stored.updated_at = utcnow()
    session.add(stored)
    gateway = ", ".join(ctx.order.payment_gateways) or "an unnamed gateway"
    _add_progress(
        ctx,
        "payment.registered",
        f"Payment of {paid.currency} {paid.amount} via {gateway} registered against "
        f"invoice {paid.booked_invoice_number} as voucher {paid.voucher} in journal "
        f"{registration.journal} (account {registration.contra_account}).",
        {
            "voucher": paid.voucher,
            "journal": registration.journal,
            "contra_account": registration.contra_account,
            "booked_invoice_number": paid.booked_invoice_number,
        },
    )


def _already_booked(ctx: Context, link: InvoiceLink) -> None:
    _add_progress(
        ctx,
        "invoice.booked",
        f"Already booked as invoice {link.booked_invoice_number}; nothing was created again.",
        {
            "booked_invoice_number": link.booked_invoice_number,
            "customer_number": link.customer_number,
        },
    )


def _leave_as_draft(ctx: Context, draft: DraftInvoice) -> None:
    _add_progress(
        ctx,
        "invoice.left_as_draft",
        f"Draft invoice {draft.draft_invoice_number} left for a bookkeeper to book "
        "(the connection creates drafts only).",
        {"draft_invoice_number": draft.draft_invoice_number},
    )


async def _progress(ctx: Context, step: str, message: str, details: dict[str, object]) -> None:
    """A timeline entry of its own, before the next call to the ledger."""
    async with ctx.uow.transaction():
        _add_progress(ctx, step, message, details)


def _add_progress(ctx: Context, step: str, message: str, details: dict[str, object]) -> None:
    ctx.uow.progress(step, message, details, order_key=ctx.order.order_key)
