"""One booked invoice per order, in whichever ledger the connection books into, even when a
reply from the ledger is lost.

The steps, each recorded in our database before the next call:

1. intent: the link row exists (order key, customer) before anything is created.
2. The ledger makes the document through the port (`Ledger.make_document`, the exactly-once
   contract of docs/ledger-port.md), with the order key as our reference. A first attempt
   creates at once. Only when the intent was there before this attempt (an earlier attempt's
   outcome is unknown: it crashed, or a reply was lost) does the ledger look first: the draft
   recorded at `drafted` (still there, it is not booked), else the booked invoice by the order
   key, else a draft by it. What it finds is taken as it is; nothing is planned again.
3. Only when nothing was found: the plan (`_request`). The customer first (it may not be the
   buyer any more: same_buyer.py; a first attempt uses what customers read, a retry reads it
   again), the products (created when the settings say so), the VAT routes, then the neutral
   `DocumentRequest` (invoice_request.py). Reads the adapter answered from its cache that a
   refusal names are dropped there, and the message is retried.
4. In a ledger with drafts (e-conomic), once the draft exists (`on_draft`): step drafted, then
   the ledger's total and VAT against the shop's (totals_check.py); a difference above the
   tolerance stops here and leaves the draft for a bookkeeper. A ledger without drafts
   (QuickBooks) makes the booked document in one call.
5. Step booked, `invoice.booked` and the timeline entry, in one transaction.
6. Orders paid up front, when the settings ask: the payment registered against the invoice
   (`Ledger.register_payment`), marked as attempted before the call so a retry looks it up
   first, its id recorded on the link; replay retries only this.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Connection
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common import connection_settings
from lb_common.db import Database, utcnow
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
from lb_common.leases import LeaseInTransactions
from lb_common.money import round_2
from lb_common.orders import CanonicalOrder
from lb_common.unit_of_work import Sessions, UnitOfWork
from lb_common.vat_treatment import destination_country, order_vat_treatment
from lb_connectors.ledger import (
    DocumentPlan,
    DocumentRequest,
    ItemDetails,
    Ledger,
    LedgerCustomer,
    LedgerDocument,
    LedgerError,
    PaymentRequest,
    PostalAddress,
    RegisteredPayment,
    Resume,
)
from lb_connectors.ledger.registry import ledger_kind
from lb_connectors.ledgers import LedgerDirectory
from lb_invoicing import store
from lb_invoicing.invoice_request import invoice_request, recipient_ean
from lb_invoicing.lines import InvoicePlan, plan_invoice, products_needed
from lb_invoicing.order_lease import OrderLeases
from lb_invoicing.policy import InvoiceSettings, PaymentRegistration
from lb_invoicing.same_buyer import other_buyers_detail
from lb_invoicing.store import InvoiceConnectionSettings, InvoiceLink
from lb_invoicing.totals_check import DraftTotals, check_against_shop, totals_differ
from lb_invoicing.vat_routing import route_plan, route_products

SERVICE = "invoicing"


@dataclass(frozen=True)
class Context:
    uow: UnitOfWork
    order: CanonicalOrder
    customer_id: str
    ledger: Ledger
    matched_on: MatchEvidence | None = None
    carried: ResolvedCustomer | None = None  # the customer as customers read it, if it did

    @property
    def connection(self) -> str:
        return self.uow.message.connection

    @property
    def label(self) -> str:
        """The ledger's name for people ("e-conomic")."""
        return ledger_kind(self.ledger.kind).label


async def handle_customer_resolved(
    event: CustomerResolved, uow: UnitOfWork, *, ledgers: LedgerDirectory, orders: OrderLeases
) -> None:
    await orders.run_alone_in_transactions(
        event.order.order_key,
        "the invoice",
        lambda lease: _book(event, uow, ledgers, orders.db, lease),
    )


async def _book(
    event: CustomerResolved,
    uow: UnitOfWork,
    ledgers: LedgerDirectory,
    db: Database,
    lease: LeaseInTransactions,
) -> None:
    connection = uow.message.connection
    # 1. The order's lease, the settings and the intent in one write transaction (plain Core
    # through `write_sync`: it sends no message); the lease is given back in the transaction
    # that records the outcome.
    intent = Intent(event, connection, lease)
    settings, order, link, earlier_attempt = await db.write_sync(intent.record)
    ctx = Context(
        uow,
        order,
        event.customer_number,
        ledgers.ledger(connection),
        event.matched_on,
        event.customer,
    )
    failpoint("invoicing.after_intent")
    registration = payment_due(ctx.order, settings, link)
    if link.step == store.BOOKED:
        # Booked before; the payment step may have failed after it (then only it runs again).
        paid = await _post_payment(ctx, link, registration) if registration else None
        async with lease.giving_back(uow.commit()) as session:
            if registration is not None and paid is not None:
                await _record_payment(session, ctx, registration, paid)
            _already_booked(ctx, link)
        return

    made = Made()
    sent_by = send_by(ctx.order, settings)
    # Steps 2-4: the ledger's exactly-once document, with our steps in the callbacks.
    try:
        document = await ctx.ledger.make_document(
            DocumentPlan(
                ctx.order.order_key,
                lambda: _request(ctx, settings, made, sent_by, retry=earlier_attempt),
                book=settings.book,
                send_by=sent_by,
            ),
            resume=Resume(earlier_attempt=earlier_attempt, draft_id=link.draft_invoice_number),
            on_draft=lambda draft: _drafted(ctx, settings, made, draft),
        )
    except Exception:
        if made.draft is not None:  # left unbooked (totals differ, booking failed): say so
            await _record_drafted(ctx, made)
        raise
    if document.state == "draft":  # the connection creates drafts only
        async with lease.giving_back(uow.commit()) as session:
            await _drafted_steps(session, ctx, made)
            _leave_as_draft(ctx, document)
        return
    if made.drafted or made.plan is not None:  # booked just now, not found booked
        failpoint("invoicing.after_booked")
    outcome = functools.partial(
        _record_booked, ctx=ctx, link=link, made=made, booked=document, sent_by=sent_by
    )
    if registration is None:
        # The outcome with the lease given back and the inbox row, in plain Core.
        await lease.given_back_in(uow.commit_sync, outcome)
        return
    # Booked, then the payment: the booked step is durable before the ledger is called, so a
    # failed payment is retried (or replayed) on its own.
    async with uow.transaction() as session:
        await (await session.connection()).run_sync(outcome)
    paid = await _post_payment(ctx, link, registration)
    async with lease.giving_back(uow.commit()) as session:
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


def send_by(order: CanonicalOrder, settings: InvoiceSettings) -> Literal["EAN"] | None:
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


@dataclass(frozen=True)
class Intent:
    """Step 1's transaction: `record` is its work (`Database.write_sync`)."""

    event: CustomerResolved
    connection: str
    lease: LeaseInTransactions

    def record(self, db: Connection) -> tuple[InvoiceSettings, CanonicalOrder, InvoiceLink, bool]:
        """The settings, the order as the invoice has it, and the order's link with its intent
        recorded; and whether an earlier attempt recorded it (so what that attempt did in the
        ledger is unknown and must be looked up). A first attempt is one insert that does
        nothing if the row is there (then it is read). Anything refused here (the settings,
        the invoice's currency) leaves no intent, and the lease is not taken."""
        self.lease.take(db)
        settings = InvoiceSettings.model_validate(
            connection_settings.stored_settings(InvoiceConnectionSettings, self.connection, db)
        )
        order = invoice_version(self.event.order, settings)
        customer_id = self.event.customer_number
        now = utcnow()
        link = InvoiceLink(
            order_key=order.order_key,
            connection=self.connection,
            step=store.INTENT,
            customer_number=customer_id,
            currency=order.currency,
            taxes_included=order.taxes_included,
            created_at=now,
            updated_at=now,
        )
        if store.insert_new_link(db, link):
            return settings, order, link, False
        stored = store.read_link(db, order.order_key)
        assert stored is not None
        if stored.step == store.INTENT and stored.customer_number != customer_id:
            # Resolved again (a replay) before anything was made: the new customer counts.
            stored.customer_number, stored.updated_at = customer_id, now
            store.update_link_in(db, order.order_key, customer_number=customer_id, updated_at=now)
        return settings, order, stored, True


@dataclass
class Made:
    """What this attempt made on its way to the document: the plan of a new one (set when
    nothing of an earlier attempt was found), and the draft it saw (so booking happened now)."""

    plan: InvoicePlan | None = None
    draft: LedgerDocument | None = None

    @property
    def drafted(self) -> bool:
        return self.draft is not None


async def _request(
    ctx: Context,
    settings: InvoiceSettings,
    made: Made,
    sent_by: Literal["EAN"] | None,
    *,
    retry: bool,
) -> DocumentRequest:
    """3. The request for a new document (none was left by an earlier attempt)."""
    started = utcnow()  # what the ledger's cache answered with was read before this
    recipient_ean(ctx.order)  # a mistyped EAN stops here, before anything is made
    # A retry judges the customer on a fresh read: the ledger may have changed under a
    # message that waited (see same_buyer.py); a first attempt uses what customers read.
    customer = await _customer(ctx, fresh=retry, started=started)
    plan = await _plan(ctx, settings)
    made.plan = plan
    return invoice_request(
        ctx.order, customer, plan, settings, send_by=sent_by, read_before=started
    )


async def _drafted(
    ctx: Context, settings: InvoiceSettings, made: Made, draft: LedgerDocument
) -> None:
    """The draft exists (made just now from `made.plan`, or left by an earlier attempt and
    judged without its plan): the totals check before it is booked.

    Step drafted is written only when the draft is not booked now (the check stops it, or the
    booking fails: `_record_drafted`); when it is booked it comes with step booked, in that
    one transaction. Exactly once without it: a retry after a crash before then finds the draft,
    or the invoice it became, by the order key (the intent says to look: step 2)."""
    plan = made.plan
    if plan is not None:
        failpoint("invoicing.after_draft_created")
    made.draft = draft
    # 4. Before booking: the ledger's totals against the shop's; where they differ, line by
    # line at the rates the ledger's VAT setup gives (read only then).
    totals = DraftTotals(draft.number, draft.gross_amount, draft.vat_amount, ctx.label)
    rates = None
    if plan is not None and totals_differ(ctx.order, totals, tolerance=settings.tolerance):
        try:
            rates = await ctx.ledger.item_tax_rates(
                draft, sorted({line.product_number for line in plan.lines})
            )
        except LedgerError:
            rates = None  # the figures are still given, without the ledger's rates
    check_against_shop(
        ctx.order, totals, tolerance=settings.tolerance, plan=plan, ledger_rates=rates
    )


async def _drafted_steps(session: AsyncSession, ctx: Context, made: Made) -> None:
    """Step drafted with the draft's number (only over step intent: never back from booked),
    and for a draft made now its timeline entry (in the caller's transaction)."""
    draft = made.draft
    assert draft is not None
    _draft_progress(ctx, made)
    await store.update_link(
        session,
        ctx.order.order_key,
        only_at=store.INTENT,
        step=store.DRAFTED,
        draft_invoice_number=draft.id,
        updated_at=utcnow(),
    )


def _draft_progress(ctx: Context, made: Made) -> None:
    """The timeline entry of a draft made by this attempt (none for one it found)."""
    if made.plan is not None and made.draft is not None:
        _add_progress(
            ctx,
            "invoice.drafted",
            f"Draft invoice {made.draft.number} created with {len(made.plan.lines)} lines.",
            {"draft_invoice_number": made.draft.id, "notes": list(made.plan.notes)},
        )


async def _record_drafted(ctx: Context, made: Made) -> None:
    """A draft this attempt saw that is not booked now (the totals differ, the booking failed):
    its step, so the bookkeeper sees it and a retry reads it by its number without a search."""
    async with ctx.uow.transaction() as session:
        await _drafted_steps(session, ctx, made)


async def _plan(ctx: Context, settings: InvoiceSettings) -> InvoicePlan:
    """The invoice lines on the products the ledger has (or was given), routed by VAT."""
    wanted = products_needed(ctx.order, settings) | route_products(settings.vat_routes)
    items = await ctx.ledger.find_items(sorted(wanted))
    known = set()
    groups: dict[str, int] = {}
    for number in wanted:
        item = items.get(number)
        if item is not None and not item.barred:
            known.add(number)
            if item.group is not None and item.group.isdigit():
                groups[number] = int(item.group)
        elif item is None and settings.unknown_product == "create":
            known.add(await _create_product(ctx, number, settings))
            groups[number] = settings.new_product_group
    for route in settings.vat_routes:
        if route.product is not None and route.product not in known:
            raise PermanentError(
                f"Product '{route.product}' of the VAT route for {route.treatment}"
                f"{f' {route.country}' if route.country else ''} (invoicing settings) is not "
                f"in {ctx.label}, or is barred. Create it in a product group whose sales "
                "account books that VAT, or change the route, then replay."
            )
    return route_plan(
        plan_invoice(ctx.order, settings, frozenset(known)),
        settings.vat_routes,
        order_vat_treatment(ctx.order, settings.home_country),
        destination_country(ctx.order),
        groups,
    )


async def _create_product(ctx: Context, number: str, settings: InvoiceSettings) -> str:
    """Create a product the shop sells but the ledger lacks (unknown_product = create)."""
    line = next((item for item in ctx.order.lines if item.sku == number), None)
    if line is None:  # a configured product (shipping, default, ...): never invented
        raise PermanentError(
            f"Product '{number}' from the invoicing settings is not in {ctx.label}. Create it, "
            "then replay."
        )
    price = round_2(line.unit_price - (line.tax / line.quantity if ctx.order.taxes_included else 0))
    created = await ctx.ledger.create_item(
        ItemDetails(
            id=number, name=line.title, unit_net_price=price, group=str(settings.new_product_group)
        ),
        idempotency_key=f"{ctx.connection}:product:{number}",
    )
    await _progress(
        ctx,
        "product.created",
        f"Product {number} '{created.name}' created in {ctx.label} (group "
        f"{settings.new_product_group}, price {price}).",
        {"product_number": number},
    )
    return created.id


def _carried_customer(customer_id: str, carried: ResolvedCustomer) -> LedgerCustomer:
    """The ledger customer as customer.resolved carried it (customers read or wrote it)."""
    return LedgerCustomer(
        id=customer_id,
        number=customer_id,
        name=carried.name,
        currency=carried.currency,
        email=carried.email,
        vat_id=carried.vat_id,
        ean=carried.ean,
        billing=PostalAddress(
            name=carried.name,
            lines=tuple((carried.address or "").splitlines()),
            zip=carried.zip,
            city=carried.city,
            country=carried.country,
        ),
        group=carried.group,
        payment_terms=carried.payment_terms,
        tax_zone=carried.tax_zone,
        layout=carried.layout,
        read_at=carried.read_at,
    )


async def _customer(ctx: Context, *, fresh: bool, started: datetime) -> LedgerCustomer:
    """The customer, judged against the buyer it was resolved for (`fresh`: a read just now,
    else what customers read or the ledger's cache holds)."""
    known = (
        _carried_customer(ctx.customer_id, ctx.carried)
        if ctx.carried is not None and not fresh
        else None
    )
    customer = await ctx.ledger.get_customer(ctx.customer_id, fresh=fresh, known=known)
    cached = customer is not None and customer.read_at < started
    if cached and customer is not None and other_buyers_detail(ctx.matched_on, customer):
        # Judged on a fresh read, not the cache.
        customer = await ctx.ledger.get_customer(ctx.customer_id, fresh=True)
    if customer is None:
        raise PermanentError(
            f"{ctx.label} customer {ctx.customer_id} no longer exists. Re-link the buyer "
            "in the customers service, then replay the order."
        )
    others = other_buyers_detail(ctx.matched_on, customer)
    if others is not None and ctx.matched_on is not None:
        buyer = ctx.order.buyer
        name = (buyer.full_name or buyer.company) if buyer else None
        key = f"{ctx.matched_on.kind}:{ctx.matched_on.value}"
        raise PermanentError(
            f"{ctx.label} customer {ctx.customer_id} is now '{customer.name}' ({others}), but "
            f"order {ctx.order.order_name} was resolved to customer {ctx.customer_id} for "
            f"'{name or ctx.matched_on.value}' ({ctx.matched_on.value}): the number now belongs "
            f"to someone else, or their details were changed in {ctx.label}. Nothing was "
            "drafted. If it is someone else, remove the buyer's link (DELETE /links/"
            f"{ctx.connection}/{key} on customers) and replay the order: the buyer is "
            f"found or created again. If it is the same buyer, confirm the link (PUT /links/"
            f"{ctx.connection}/{key} with customer_number {ctx.customer_id}) and "
            "replay the order."
        )
    return customer


def _record_booked(
    connection: Connection,
    ctx: Context,
    link: InvoiceLink,
    made: Made,
    booked: LedgerDocument,
    *,
    sent_by: str | None,
) -> None:
    """5. Step booked, `invoice.booked` and the timeline entry (in the caller's transaction,
    as plain Core: `uow.commit_sync` work); a draft made now gets its timeline entry first.
    `link` (as `_link_with_intent` gave it) is brought up to date with what is written."""
    lines = tuple(
        BookedLine(sku=line.item, product_number=line.item, quantity=line.quantity)
        for line in booked.lines
        if line.item is not None
    )
    _draft_progress(ctx, made)
    changes: dict[str, Any] = {
        "step": store.BOOKED,
        "draft_invoice_number": made.draft.id if made.draft else link.draft_invoice_number,
        "booked_invoice_number": booked.id,
        "customer_number": booked.customer_id,  # the invoice's (its payment goes there too)
        # The invoice's, which `amounts` may have made the buyer's.
        "currency": booked.currency,
        "net_amount": str(booked.net_amount),
        "vat_amount": str(booked.vat_amount),
        "gross_amount": str(booked.gross_amount),
        "invoice_date": booked.date,
        "document": booked.raw,
        "updated_at": utcnow(),
    }
    store.update_link_in(connection, ctx.order.order_key, **changes)
    for name, value in changes.items():
        setattr(link, name, value)
    ctx.uow.emit(
        InvoiceBooked(
            order_key=ctx.order.order_key,
            customer_number=booked.customer_id,
            draft_invoice_number=link.draft_invoice_number,
            booked_invoice_number=booked.id,
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
        f"Invoice {booked.number} booked: {booked.currency} "
        f"{booked.gross_amount} incl. VAT {booked.vat_amount}.",
        {"booked_invoice_number": booked.id, "customer_number": booked.customer_id},
    )
    if sent_by == "EAN":
        # e-conomic sends it through NemHandel when booking with sendBy EAN.
        buyer = ctx.order.buyer
        _add_progress(
            ctx,
            "einvoice.sent",
            f"Invoice {booked.number} sent as an e-invoice (OIOUBL through "
            f"NemHandel) to EAN {buyer.ean if buyer else '?'}.",
            {"booked_invoice_number": booked.id, "send_by": sent_by},
        )


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


def payment_request(
    order: CanonicalOrder, link: InvoiceLink, registration: PaymentRegistration
) -> PaymentRequest:
    """6. The up-front payment against the booked invoice: credited to the customer and
    debited to the posting (suspense) account, in the settings' journal where the ledger has
    journals. Its reference is the order key, which the ledger finds it by after a lost reply."""
    assert link.booked_invoice_number is not None
    assert link.invoice_date is not None and link.gross_amount is not None
    gateway = ", ".join(order.payment_gateways) or "an unnamed gateway"
    return PaymentRequest(
        reference=order.order_key,
        document_id=link.booked_invoice_number,
        customer_id=link.customer_number,
        amount=Decimal(link.gross_amount).quantize(Decimal("0.01")),
        currency=link.currency or order.currency,
        date=link.invoice_date,
        clearing_account=str(registration.contra_account),
        journal=str(registration.journal),
        text=f"Webshop order {order.order_name} paid via {gateway}",
    )


async def _post_payment(
    ctx: Context, link: InvoiceLink, registration: PaymentRegistration
) -> RegisteredPayment:
    """The payment in the ledger. Exactly once: the link's payment_voucher once it is
    recorded; before that, the mark that a registration was attempted, with which the ledger
    looks for it (by the order key) before registering again."""
    request = payment_request(ctx.order, link, registration)
    if not link.payment_attempted:
        async with ctx.uow.transaction() as session:
            stored = await session.get(InvoiceLink, ctx.order.order_key)
            assert stored is not None
            stored.payment_attempted = True
            session.add(stored)
    try:
        paid = await ctx.ledger.register_payment(request, earlier_attempt=link.payment_attempted)
    except LedgerError as exc:
        if isinstance(exc, PermanentError):
            raise _payment_refused(link, registration, exc) from exc
        raise
    failpoint("invoicing.after_payment_posted")
    return paid


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
    session: AsyncSession, ctx: Context, registration: PaymentRegistration, paid: RegisteredPayment
) -> None:
    """The payment's id on the link and the timeline entry (in the caller's transaction)."""
    stored = await session.get(InvoiceLink, ctx.order.order_key)
    assert stored is not None
    stored.payment_voucher = paid.id
    stored.updated_at = utcnow()
    session.add(stored)
    gateway = ", ".join(ctx.order.payment_gateways) or "an unnamed gateway"
    _add_progress(
        ctx,
        "payment.registered",
        f"Payment of {paid.currency} {paid.amount} via {gateway} registered against "
        f"invoice {paid.document_id} as voucher {paid.id} in journal "
        f"{registration.journal} (account {registration.contra_account}).",
        {
            "voucher": paid.id,
            "journal": registration.journal,
            "contra_account": registration.contra_account,
            "booked_invoice_number": paid.document_id,
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


def _leave_as_draft(ctx: Context, draft: LedgerDocument) -> None:
    _add_progress(
        ctx,
        "invoice.left_as_draft",
        f"Draft invoice {draft.number} left for a bookkeeper to book "
        "(the connection creates drafts only).",
        {"draft_invoice_number": draft.id},
    )


async def _progress(ctx: Context, step: str, message: str, details: dict[str, object]) -> None:
    """A timeline entry of its own, before the next call to the ledger."""
    async with ctx.uow.transaction():
        _add_progress(ctx, step, message, details)


def _add_progress(ctx: Context, step: str, message: str, details: dict[str, object]) -> None:
    ctx.uow.progress(step, message, details, order_key=ctx.order.order_key)
