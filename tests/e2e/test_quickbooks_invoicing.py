"""Invoicing into QuickBooks Online through the ledger port: an order of a connection whose
ledger is a QuickBooks company (connected through Intuit's consent, as test_quickbooks_connect
does) is invoiced there exactly once, also when QuickBooks' reply is lost or the attempt fails
after its intent, and a redelivered message makes nothing again.

The customers service does not resolve QuickBooks customers yet (helper "cust" moves it onto
the port), so these tests seed the QuickBooks customer and publish `customer.resolved` as the
customers service would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from lb_common.connection_copies import ConnectionCopy
from lb_common.envelope import Envelope
from lb_common.events import (
    CustomerResolved,
    Event,
    OrderCancelled,
    OrderRefunded,
    Refund,
    RefundLine,
)
from lb_common.messaging import Broker
from lb_common.orders import Address, Buyer, CanonicalOrder, OrderLine, ShippingLine
from lb_common.outbox import OutboxMessage
from tests.e2e.test_quickbooks_connect import (
    PUBLIC,
    _browser,
    _consent_at_intuit,
    _consent_url,
)
from tests.support.quickbooks_sandbox import hat_and_shipping
from tests.support.system import System, running_system


class Company:
    """The connection `west`, booking into a QuickBooks company of the sandbox."""

    def __init__(self, system: System, broker: Broker, realm: str, customer: str) -> None:
        self.system, self.broker, self.realm, self.customer = system, broker, realm, customer

    async def rows(self, entity: str) -> list[dict[str, Any]]:
        async with self.system.sandbox() as sandbox:
            reply = await sandbox.get(f"/_sandbox/quickbooks/companies/{self.realm}/state")
        found: list[dict[str, Any]] = reply.json()["entities"].get(entity, [])
        return found

    async def fault(self, **spec: Any) -> None:
        async with self.system.sandbox() as sandbox:
            reply = await sandbox.post(
                "/_sandbox/quickbooks/faults", json={"agreement": self.realm, **spec}
            )
        assert reply.is_success, reply.text

    async def resolved(self, order: CanonicalOrder) -> None:
        """customer.resolved for `order`, as the customers service sends it."""
        await self.send(CustomerResolved(order=order, customer_number=self.customer), order)

    async def send(self, event: Event, order: CanonicalOrder) -> None:
        await self.broker.publish_envelope(
            Envelope.wrap(event, connection="west", order_key=order.order_key)
        )

    async def credit_notes(self, key: str, steps: set[str], count: int, timeout: float = 30):
        """Invoicing's credit notes of the order once `count` of them reached `steps`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            answer = await self.system.apps["invoicing"].get(
                "/credit-notes", params={"order_key": key}
            )
            notes = [n for n in answer.json() if n["step"] in steps]
            if len(notes) >= count:
                return notes
            assert loop.time() < deadline, f"credit notes of {key}: {answer.text}"
            await asyncio.sleep(0.2)

    async def invoice(self, key: str, timeout: float = 30) -> dict[str, Any]:
        """Invoicing's record of the order's invoice, once it is booked."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            answer = await self.system.apps["invoicing"].get(f"/invoices/{key}")
            if answer.status_code == 200 and answer.json()["step"] == "booked":
                return dict(answer.json())
            assert loop.time() < deadline, f"{key} was not booked: {answer.text}"
            await asyncio.sleep(0.2)


async def _invoicing_knows_quickbooks(system: System, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with system.runtimes["invoicing"].parts.db.session() as session:
            copy = (
                await session.exec(select(ConnectionCopy).where(ConnectionCopy.name == "west"))
            ).first()
        if copy is not None and copy.ledger_kind == "quickbooks":
            return
        assert loop.time() < deadline, "invoicing never heard of west's QuickBooks ledger"
        await asyncio.sleep(0.2)


@pytest.fixture
async def company(amqp_url, broker_prefix, tmp_path, tokens_url) -> AsyncIterator[Company]:
    async with running_system(
        amqp_url,
        broker_prefix,
        tmp_path,
        "ingest",
        "invoicing",
        ingest_overrides={"public_url": PUBLIC},
    ) as system:
        put = await system.apps["ingest"].put(
            "/connections/west",
            json={
                "platform": "shopify",
                "secrets": ["west-secret"],
                "settings": {"shop_domain": "west-shop.myshopify.com"},
            },
        )
        assert put.status_code == 200, put.text
        back = await _consent_at_intuit(system, await _consent_url(system))
        realm = parse_qs(urlsplit(back).query)["realmId"][0]
        async with _browser(system) as browser:
            landed = await browser.get(back)
            assert landed.status_code == 200, landed.text
        await _invoicing_knows_quickbooks(system)

        async with system.sandbox() as sandbox:
            base = f"/_sandbox/quickbooks/companies/{realm}"
            items = await sandbox.post(
                f"{base}/Item",
                json=hat_and_shipping(),
            )
            assert items.status_code == 201, items.text
            customers = await sandbox.post(
                f"{base}/Customer",
                json=[{"DisplayName": "Ann Lee", "PrimaryEmailAddr": {"Address": "ann@x.test"}}],
            )
            assert customers.status_code == 201, customers.text
        [customer] = customers.json()["created"]

        invoicing = system.apps["invoicing"]
        settings = (await invoicing.get("/connections/west/settings")).json()
        changed = {
            **settings,
            "shipping_product": "SHIP",
            # QuickBooks' tax code for the lines (the sandbox's 25 %); prices are net.
            "ledger_options": {"tax_code": "2"},
        }
        saved = await invoicing.put("/connections/west/settings", json=changed)
        assert saved.is_success, saved.text

        broker = Broker(amqp_url, broker_prefix)
        await broker.connect()
        try:
            yield Company(system, broker, realm, customer)
        finally:
            await broker.close()


def _order() -> CanonicalOrder:
    """Two hats at 12.50 and shipping at 6.19, 25 % VAT included: 24.95 net, 6.24 VAT."""
    when = datetime(2026, 11, 28, 12, tzinfo=UTC)
    return CanonicalOrder(
        platform="shopify",
        shop="west-shop.myshopify.com",
        order_id=uuid.uuid4().hex[:12],
        order_name="#1001",
        version=when,
        created_at=when,
        currency="USD",
        taxes_included=True,
        financial_status="paid",
        payment_gateways=("stripe",),
        buyer=Buyer(email="ann@x.test", first_name="Ann", last_name="Lee"),
        billing_address=Address(name="Ann Lee", address1="1 Main St", city="Austin", zip="78701"),
        lines=(
            OrderLine(
                line_id="L1",
                sku="HAT",
                title="Hat",
                quantity=Decimal(2),
                unit_price=Decimal("12.50"),
                tax=Decimal("5.00"),
                tax_rate=Decimal("0.25"),
            ),
        ),
        shipping_lines=(
            ShippingLine(
                line_id="S1",
                title="Shipping",
                price=Decimal("6.19"),
                tax=Decimal("1.24"),
                tax_rate=Decimal("0.25"),
            ),
        ),
        total_tax=Decimal("6.24"),
        total_price=Decimal("31.19"),
    )


async def _one_invoice_for(company: Company, key: str) -> dict[str, Any]:
    copy = await company.invoice(key)
    mine = [
        row for row in await company.rows("Invoice") if row.get("PrivateNote", "").endswith(key)
    ]
    assert len(mine) == 1, f"{len(mine)} QuickBooks invoices for one order"
    [invoice] = mine
    assert str(copy["booked_invoice_number"]) == str(invoice["Id"])
    assert str(copy["customer_number"]) == company.customer
    assert copy["gross_amount"] == "31.19" and copy["vat_amount"] == "6.24"
    quantities = [
        Decimal(str(line["SalesItemLineDetail"]["Qty"]))
        for line in invoice["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
    ]
    assert quantities == [2, 1]  # the hats, and shipping on the SHIP item
    return invoice


async def test_an_order_is_invoiced_once_in_quickbooks(company: Company):
    order = _order()
    await company.resolved(order)
    invoice = await _one_invoice_for(company, order.order_key)
    assert invoice["CustomerRef"]["value"] == company.customer
    assert invoice["BillAddr"]["City"] == "Austin"

    # The same message again (a redelivery, a replay): nothing is made again.
    await company.resolved(order)
    timeline_says = "Already booked as invoice"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        async with company.system.runtimes["invoicing"].parts.db.session() as session:
            rows = (await session.exec(select(OutboxMessage))).all()
        if any(timeline_says in row.body.decode() for row in rows):
            break
        assert loop.time() < deadline, "the second message was never handled"
        await asyncio.sleep(0.2)
    await _one_invoice_for(company, order.order_key)


async def test_a_lost_reply_from_quickbooks_still_gives_one_invoice(company: Company):
    # QuickBooks makes the invoice but the answer never arrives: the retry is an earlier
    # attempt, finds the invoice by its DocNumber and PrivateNote, and creates nothing.
    await company.fault(kind="lost_reply", path="/invoice", method="POST", times=1)
    order = _order()
    await company.resolved(order)
    await _one_invoice_for(company, order.order_key)


async def test_a_failure_after_the_intent_still_gives_one_invoice(
    company: Company, caplog: pytest.LogCaptureFixture
):
    # The attempt fails after its intent, before anything is made (QuickBooks answers the
    # item query with 503s, past the client's quick retries): the retry looks first, finds
    # nothing and makes the one invoice.
    await company.fault(kind="error", status=503, path="/query", method="GET", times=4)
    order = _order()
    await company.resolved(order)
    await _one_invoice_for(company, order.order_key)
    retried = [
        r.getMessage()
        for r in caplog.records
        if "retrying customer.resolved" in r.getMessage() and "ledger_unavailable" in r.getMessage()
    ]
    assert retried, "the first attempt did not fail: the test proves nothing"


def _refund(order: CanonicalOrder) -> Refund:
    """One of the two hats back: 12.50 incl. 2.50 VAT."""
    return Refund(
        refund_id="R1",
        created_at="2026-11-29T10:00:00Z",
        currency="USD",
        lines=(
            RefundLine(
                line_id="L1",
                sku="HAT",
                title="Hat",
                quantity=Decimal(1),
                subtotal=Decimal("12.50"),
                tax=Decimal("2.50"),
            ),
        ),
        total=Decimal("12.50"),
    )


def _memos_for(rows: list[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    return [row for row in rows if row.get("PrivateNote", "").endswith(reference)]


@pytest.mark.parametrize("lost", [False, True], ids=["plain", "lost_reply"])
async def test_a_refund_makes_one_credit_memo_and_a_cancellation_credits_the_rest(
    company: Company, lost: bool
):
    order = _order()
    key = order.order_key
    await company.resolved(order)
    await _one_invoice_for(company, key)
    if lost:  # QuickBooks makes each credit memo but its answer is lost
        await company.fault(kind="lost_reply", path="/creditmemo", method="POST", times=2)

    await company.send(OrderRefunded(order_key=key, refund=_refund(order)), order)
    [refunded] = await company.credit_notes(key, {"booked"}, 1)
    memos = await company.rows("CreditMemo")
    [memo] = _memos_for(memos, f"{key}:refund:R1")
    assert str(refunded["booked_invoice_number"]) == str(memo["Id"])
    assert refunded["gross_amount"] == "12.50"  # one hat: 10.00 net + 2.50 VAT

    await company.send(OrderCancelled(order_key=key), order)
    notes = await company.credit_notes(key, {"booked"}, 2)
    memos = await company.rows("CreditMemo")
    [cancel] = _memos_for(memos, f"{key}:cancel")
    assert len(_memos_for(memos, f"{key}:refund:R1")) == 1
    # What the refund left: the other hat and the shipping (10.00 + 4.95 net, 25 % VAT).
    [cancelled] = [n for n in notes if n["reference"].endswith(":cancel")]
    assert str(cancelled["booked_invoice_number"]) == str(cancel["Id"])
    assert cancelled["gross_amount"] == "18.69"
    quantities = {
        line["SalesItemLineDetail"]["ItemRef"]["value"]: Decimal(
            str(line["SalesItemLineDetail"]["Qty"])
        )
        for line in cancel["Line"]
        if line.get("DetailType") == "SalesItemLineDetail"
    }
    assert sorted(quantities.values()) == [1, 1]

    # The cancellation again (a redelivery): nothing more is made.
    await company.send(OrderCancelled(order_key=key), order)
    await asyncio.sleep(2)
    memos = await company.rows("CreditMemo")
    assert len([m for m in memos if key in m.get("PrivateNote", "")]) == 2
