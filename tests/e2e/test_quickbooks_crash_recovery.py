"""Kill invoicing at each point of a QuickBooks booking (after the intent, after the invoice is
made); the restarted process finishes the order with exactly one QuickBooks invoice. Real
processes (the launcher of `make up`), real RabbitMQ, SQLite files; the company is connected
through ingest's consent flow against the sandbox's Intuit, as a bookkeeper connects it.

QuickBooks makes a document in one step: the failpoint between a draft and its booking
(`invoicing.after_draft_created`) is e-conomic's only (tests/e2e/test_crash_recovery.py). The
customers service does not resolve QuickBooks customers yet, so the test seeds the customer
and publishes `customer.resolved` as customers would.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lb_common.envelope import Envelope
from lb_common.events import CustomerResolved, Event, OrderCancelled, OrderRefunded
from lb_common.messaging import Broker
from scripts.stack import Stack
from tests.e2e.test_crash_recovery import _admin, _request, _wait
from tests.e2e.test_quickbooks_invoicing import _order, _refund
from tests.support import services
from tests.support.quickbooks_sandbox import hat_and_shipping
from tests.support.quickbooks_stack import connect_quickbooks, quickbooks_stack
from tests.support.stores import selected_kinds

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    if "sqlite" not in selected_kinds(request.config):
        pytest.skip("--stores leaves out sqlite")
    with quickbooks_stack(Path(tmp_path_factory.mktemp("qbstack"))) as running:
        yield _connect_west(running)


def _connect_west(stack: Stack) -> tuple[Stack, str, str]:
    """The connection `west`, its QuickBooks company connected, seeded and set up: (stack,
    realm, customer id)."""
    _admin(
        stack,
        "ingest",
        "PUT",
        "/connections/west",
        {
            "platform": "shopify",
            "secrets": ["west-secret"],
            "settings": {"shop_domain": "west-shop.myshopify.com"},
        },
    )
    sandbox = stack.url("sandbox")
    realm = connect_quickbooks(stack, "west")

    base = f"{sandbox}/_sandbox/quickbooks/companies/{realm}"
    _request(
        "POST",
        f"{base}/Item",
        body=json.dumps(hat_and_shipping(hats_on_hand=70)).encode(),
        headers={"Content-Type": "application/json"},
    )
    made = _request(
        "POST",
        f"{base}/Customer",
        body=json.dumps(
            [{"DisplayName": "Ann Lee", "PrimaryEmailAddr": {"Address": "ann@x.test"}}]
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    settings = _admin(stack, "invoicing", "GET", "/connections/west/settings")
    _admin(
        stack,
        "invoicing",
        "PUT",
        "/connections/west/settings",
        {**settings, "shipping_product": "SHIP", "ledger_options": {"tax_code": "2"}},
    )
    return stack, realm, str(made["created"][0])


def _publish(stack: Stack, event: Event, order_key: str) -> None:
    """`event` for the order on the stack's broker, as the service that sends it would."""

    async def publish() -> None:
        broker = Broker(services.amqp_url(), stack.broker_prefix)
        await broker.connect()
        try:
            await broker.publish_envelope(
                Envelope.wrap(event, connection="west", order_key=order_key)
            )
        finally:
            await broker.close()

    asyncio.run(publish())


def _publish_resolved(stack: Stack, customer: str) -> str:
    order = _order()
    _publish(stack, CustomerResolved(order=order, customer_number=customer), order.order_key)
    return order.order_key


def _invoice_step(stack: Stack, key: str) -> str | None:
    try:
        return str(_admin(stack, "invoicing", "GET", f"/invoices/{key}")["step"])
    except urllib.error.HTTPError:
        return None


def _booked_credit(stack: Stack, reference: str) -> dict[str, Any] | None:
    order_key = reference.rsplit(":refund:", 1)[0].removesuffix(":cancel")
    notes = _admin(stack, "invoicing", "GET", f"/credit-notes?order_key={order_key}")
    return next((n for n in notes if n["reference"] == reference and n["step"] == "booked"), None)


@pytest.mark.parametrize("point", ["invoicing.after_intent", "invoicing.after_booked"])
def test_invoicing_killed_mid_flight_makes_one_quickbooks_invoice(stack: Any, point: str) -> None:
    running, realm, customer = stack
    running.kill("invoicing")
    running.start_one("invoicing", {"LEDGERBRIDGE_FAILPOINTS": point})
    running.wait_ready("invoicing")
    crashing = running.processes["invoicing"]

    key = _publish_resolved(running, customer)
    _wait(lambda: crashing.poll() is not None, what=f"invoicing to die at {point}")
    assert crashing.returncode == 137

    running.start_one("invoicing")
    running.wait_ready("invoicing")

    _wait(lambda: _invoice_step(running, key) == "booked", what=f"{key} to be booked")
    state = _request("GET", f"{running.url('sandbox')}/_sandbox/quickbooks/companies/{realm}/state")
    mine = [i for i in state["entities"]["Invoice"] if i.get("PrivateNote", "").endswith(key)]
    assert len(mine) == 1, f"{len(mine)} QuickBooks invoices for one order after a crash at {point}"
    invoice = _admin(running, "invoicing", "GET", f"/invoices/{key}")
    assert str(invoice["booked_invoice_number"]) == str(mine[0]["Id"])
    assert invoice["gross_amount"] == "31.19"


@pytest.mark.parametrize(
    "point", ["invoicing.creditnote_after_intent", "invoicing.creditnote_after_booked"]
)
def test_invoicing_killed_making_a_credit_memo_makes_one(stack: Any, point: str) -> None:
    running, realm, customer = stack
    key = _publish_resolved(running, customer)
    _wait(lambda: _invoice_step(running, key) == "booked", what=f"{key} to be booked")
    order = _order()
    for event, reference in (
        (OrderRefunded(order_key=key, refund=_refund(order)), f"{key}:refund:R1"),
        (OrderCancelled(order_key=key), f"{key}:cancel"),
    ):
        running.kill("invoicing")
        running.start_one("invoicing", {"LEDGERBRIDGE_FAILPOINTS": point})
        running.wait_ready("invoicing")
        crashing = running.processes["invoicing"]
        _publish(running, event, key)
        _wait(lambda p=crashing: p.poll() is not None, what=f"invoicing to die at {point}")
        assert crashing.returncode == 137
        running.start_one("invoicing")
        running.wait_ready("invoicing")
        _wait(
            lambda: _booked_credit(running, reference) is not None,  # noqa: B023
            what=f"the credit note {reference}",
        )
        state = _request(
            "GET", f"{running.url('sandbox')}/_sandbox/quickbooks/companies/{realm}/state"
        )
        memos = [
            m for m in state["entities"].get("CreditMemo", [])
            if m.get("PrivateNote", "").endswith(reference)
        ]  # fmt: skip
        assert len(memos) == 1, f"{len(memos)} credit memos for {reference} after {point}"
        note = _booked_credit(running, reference)
        assert note is not None and str(note["booked_invoice_number"]) == str(memos[0]["Id"])
    refund, cancel = (_booked_credit(running, f"{key}{tail}") for tail in (":refund:R1", ":cancel"))
    assert refund is not None and cancel is not None
    assert (refund["gross_amount"], cancel["gross_amount"]) == ("12.50", "18.69")
