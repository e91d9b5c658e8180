"""Kill invoicing at each point of the booking flow; the restarted process finishes the order with
exactly one invoice. Kill a customers worker while it holds a buyer's creation claim; the next
worker takes the claim over within seconds and makes one customer. Real processes (the same
launcher as `make up`), real RabbitMQ, on SQLite files and on PostgreSQL databases.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.stack import PROCESSES, Stack
from tests.platforms.factories import fixture, shopify_headers, shopify_json, shopify_order
from tests.support import services
from tests.support.broker import delete_prefix
from tests.support.stores import KINDS, postgres_store, selected_kinds

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(
    method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Any:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture
def _on_each_store() -> None:
    """The stack below is started once per store, not once per test (see tests/e2e/conftest.py)."""


@pytest.fixture(scope="module", params=KINDS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    if request.param not in selected_kinds(request.config):
        pytest.skip(f"--stores leaves out {request.param}")
    running = Stack.prepare(
        data_dir=Path(tmp_path_factory.mktemp("stack")), broker_prefix=f"t{uuid.uuid4().hex[:10]}"
    )
    for _, _, variable, _, _ in PROCESSES:
        running.env[variable] = str(_free_port())
    running.env["LEDGERBRIDGE_ECONOMIC_BASE_URL"] = f"{running.url('sandbox')}/economic"
    for cause in ("CONTENTION", "LEDGER_UNAVAILABLE", "RATE_LIMITED", "UNEXPECTED"):
        running.env[f"LEDGERBRIDGE_RETRY_{cause}"] = "300ms, 600ms, 1200ms"
    # The killed process held the order's lease: its successor waits this long for it (and
    # meets contention meanwhile, hence the longer contention schedule).
    running.env["LEDGERBRIDGE_INVOICING_ORDER_LEASE_SECONDS"] = "2"
    running.env["LEDGERBRIDGE_RETRY_CONTENTION"] = "300ms x20"
    running.env["LEDGERBRIDGE_AMQP_URL"] = services.amqp_url()
    databases = None
    if request.param == "postgresql":
        databases = asyncio.run(postgres_store())
        for name, _, _, _, _ in PROCESSES[1:]:
            url = asyncio.run(databases.url(name))
            running.env[f"LEDGERBRIDGE_{name.upper()}_DATABASE_URL"] = url
    running.start()
    yield running
    running.stop()
    asyncio.run(delete_prefix(services.amqp_url(), running.env["LEDGERBRIDGE_BROKER_PREFIX"]))
    if databases is not None:
        asyncio.run(databases.close())


def _post_order(stack: Stack, email: str) -> str:
    body = shopify_json(
        shopify_order(lines=[{"sku": "TSHIRT-RED-M", "price": "150.00"}], email=email)
    )
    answer = _request(
        "POST",
        f"{stack.url('ingest')}/webhooks/shopify/demo",
        body=body,
        headers=shopify_headers("orders/paid", body, "demo-secret"),
    )
    return str(answer["order_key"])


def _order(stack: Stack, key: str) -> dict[str, Any]:
    return _request(
        "GET",
        f"{stack.url('ingest')}/orders/{key}",
        headers={"Authorization": f"Bearer {stack.admin_token}"},
    )


def _wait(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize(
    "point", ["invoicing.after_intent", "invoicing.after_draft_created", "invoicing.after_booked"]
)
def test_invoicing_killed_mid_flight_resumes_with_one_invoice(stack: Stack, point: str) -> None:
    stack.kill("invoicing")
    stack.start_one("invoicing", {"LEDGERBRIDGE_FAILPOINTS": point})
    stack.wait_ready("invoicing")
    crashing = stack.processes["invoicing"]

    key = _post_order(stack, f"crash-{point}@example.com")
    _wait(lambda: crashing.poll() is not None, what=f"invoicing to die at {point}")
    assert crashing.returncode == 137

    stack.start_one("invoicing")
    stack.wait_ready("invoicing")
    _wait(lambda: _order(stack, key)["status"] == "booked", what=f"{key} to be booked")

    state = _request("GET", f"{stack.url('sandbox')}/_sandbox/agreements/demo/state")
    mine = [i for i in state["booked_invoices"] if i["references"]["other"] == key]
    assert len(mine) == 1, f"{len(mine)} invoices for one order after a crash at {point}"
    assert [d for d in state["drafts"] if d.get("references", {}).get("other") == key] == []
    order = _order(stack, key)
    assert order["invoice_number"] == mine[0]["bookedInvoiceNumber"]
    # With its lines: invoice.booked carried them (a recovery reads the invoice it finds by
    # number, e-conomic's list has no lines), so inventory read the stock of the T-shirt.
    invoice = _admin(stack, "invoicing", "GET", f"/invoices/{key}")
    assert [line["product"]["productNumber"] for line in invoice["document"]["lines"]] == [
        "TSHIRT-RED-M"
    ]
    _wait(lambda: _stock_read_for(stack, key, "TSHIRT-RED-M"), what=f"stock read after {key}")


def _admin(stack: Stack, service: str, method: str, path: str, body: Any = None) -> Any:
    return _request(
        method,
        f"{stack.url(service)}{path}",
        body=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {stack.admin_token}",
            "Content-Type": "application/json",
        },
    )


def _stock_read_for(stack: Stack, key: str, product: str) -> bool:
    return any(
        e["step"] == "stock.read" and product in e["details"].get("levels", {})
        for e in _order(stack, key)["timeline"]
    )


def test_invoicing_killed_after_posting_the_payment_registers_it_once(stack: Stack) -> None:
    settings = _admin(stack, "invoicing", "GET", "/connections/demo/settings")
    paying = {**settings, "payment_registration": {"journal": 1, "contra_account": 5820}}
    _admin(stack, "invoicing", "PUT", "/connections/demo/settings", paying)
    try:
        stack.kill("invoicing")
        stack.start_one("invoicing", {"LEDGERBRIDGE_FAILPOINTS": "invoicing.after_payment_posted"})
        stack.wait_ready("invoicing")
        crashing = stack.processes["invoicing"]
        key = _post_order(stack, "crash-payment@example.com")
        _wait(lambda: crashing.poll() is not None, what="invoicing to die after the payment")
        assert crashing.returncode == 137

        stack.start_one("invoicing")
        stack.wait_ready("invoicing")
        _wait(
            lambda: any(e["step"] == "payment.registered" for e in _order(stack, key)["timeline"]),
            what=f"the payment of {key} to be recorded",
        )
    finally:
        _admin(stack, "invoicing", "PUT", "/connections/demo/settings", settings)
    state = _request("GET", f"{stack.url('sandbox')}/_sandbox/agreements/demo/state")
    payments = [
        p
        for v in state["vouchers"]
        for p in v["entries"].get("customerPayments", [])
        if p.get("text", "").endswith(f"[{key}]")
    ]
    assert len(payments) == 1, f"{len(payments)} payments for one order after a crash"
    assert len([i for i in state["booked_invoices"] if i["references"]["other"] == key]) == 1


def _has_customer(stack: Stack, key: str) -> bool:
    return any(e["step"] == "customer.resolved" for e in _order(stack, key)["timeline"])


def test_a_customers_worker_killed_holding_a_creation_claim_is_taken_over_in_seconds(
    stack: Stack,
) -> None:
    email = f"claimed-{uuid.uuid4().hex[:8]}@example.com"
    # Worker 1 takes the claim to create the new buyer's customer and dies holding it.
    stack.kill("customers")
    stack.start_one("customers", {"LEDGERBRIDGE_FAILPOINTS": "customers.after_claim"})
    stack.wait_ready("customers")
    doomed = stack.processes["customers"]
    first = _post_order(stack, email)
    _wait(lambda: doomed.poll() is not None, what="customers to die holding the claim")
    assert doomed.returncode == 137

    # Worker 2 takes over; contention is retried every second for a minute, so a claim that
    # blocks longer than that parks the orders.
    stack.start_one("customers", {"LEDGERBRIDGE_RETRY_CONTENTION": "1s x60"})
    stack.wait_ready("customers")
    successor_ready = time.monotonic()
    second = _post_order(stack, email)  # the buyer's next order

    _wait(
        lambda: _has_customer(stack, first) and _has_customer(stack, second),
        timeout=60,
        what="both orders of the buyer to get their customer",
    )
    waited = time.monotonic() - successor_ready
    timelines = [_order(stack, key)["timeline"] for key in (first, second)]
    blocked = [
        e["message"]
        for timeline in timelines
        for e in timeline
        if e["step"] == "retry" and "Another worker is creating the customer" in e["message"]
    ]
    assert blocked, "the dead worker's claim was never in the way: the test proves nothing"
    # The claim expires 15 s after the dead worker last renewed it; not minutes.
    assert waited < 20, f"the buyer's orders waited {waited:.1f} s for a dead worker's claim"

    state = _request("GET", f"{stack.url('sandbox')}/_sandbox/agreements/demo/state")
    made = [c for c in state["customers"] if c.get("email") == email]
    assert len(made) == 1, f"{len(made)} ledger customers for one new buyer"
    numbers = {
        e["details"]["customer_number"]
        for timeline in timelines
        for e in timeline
        if e["step"] == "customer.resolved"
    }
    assert numbers == {made[0]["customerNumber"]}


def _refund_body(order_id: int, refund_id: int) -> bytes:
    """The public VND refund capture, for order `order_id` (one T-shirt of two, 20 VND)."""
    data = json.loads(fixture("shopify_refunds_create_VND.json"))
    data["id"], data["order_id"] = refund_id, order_id
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "point", ["invoicing.creditnote_after_intent", "invoicing.creditnote_after_booked"]
)
def test_invoicing_killed_making_a_credit_note_books_one(stack: Stack, point: str) -> None:
    order_id = 5_000_000 + uuid.uuid4().int % 1_000_000
    refund_data = json.loads(fixture("shopify_refunds_create_VND.json"))
    body = shopify_json(
        shopify_order(
            id=order_id,
            currency="VND",  # the refund capture's
            email=f"credit-{point}@example.com",
            lines=[
                {
                    "id": refund_data["refund_line_items"][0]["line_item_id"],
                    "sku": "TSHIRT-RED-M",
                    "title": "T-shirt 1",
                    "price": "20",
                    "quantity": 2,
                }
            ],
        )
    )
    key = str(
        _request(
            "POST",
            f"{stack.url('ingest')}/webhooks/shopify/demo",
            body=body,
            headers=shopify_headers("orders/paid", body, "demo-secret"),
        )["order_key"]
    )
    try:
        _wait(lambda: _order(stack, key)["status"] == "booked", what=f"{key} to be booked")
    except AssertionError:
        raise AssertionError(f"{key}: {_order(stack, key)['status_reason']}") from None

    stack.kill("invoicing")
    stack.start_one("invoicing", {"LEDGERBRIDGE_FAILPOINTS": point})
    stack.wait_ready("invoicing")
    crashing = stack.processes["invoicing"]
    refund = _refund_body(order_id, order_id + 1)
    _request(
        "POST",
        f"{stack.url('ingest')}/webhooks/shopify/demo",
        body=refund,
        headers=shopify_headers("refunds/create", refund, "demo-secret"),
    )
    _wait(lambda: crashing.poll() is not None, what=f"invoicing to die at {point}")
    assert crashing.returncode == 137

    stack.start_one("invoicing")
    stack.wait_ready("invoicing")
    reference = f"{key}:refund:{order_id + 1}"
    _wait(
        lambda: _order(stack, key)["status"] == "partly_credited",
        what=f"the credit note for {reference}",
    )
    state = _request("GET", f"{stack.url('sandbox')}/_sandbox/agreements/demo/state")
    notes = [i for i in state["booked_invoices"] if i["references"]["other"] == reference]
    assert len(notes) == 1, f"{len(notes)} credit notes for one refund after a crash at {point}"
    assert [d for d in state["drafts"] if d.get("references", {}).get("other") == reference] == []
