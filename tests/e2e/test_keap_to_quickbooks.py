"""A Keap order into QuickBooks Online through the whole pipeline: Keap's hook, ingest's fetch
from Keap's API, the customers service finds or creates the QuickBooks customer, invoicing makes
the Invoice, a refund in Keap (its refund_total grows) one CreditMemo, the order's deletion in
Keap (keap_deletions on) a CreditMemo for the rest. Exactly once with a lost reply at every
QuickBooks create, and with the service killed at each step (before its write is recorded, and
after the write is made but before it is recorded). Real processes (the launcher of `make up`),
real RabbitMQ, SQLite files or PostgreSQL databases; Keap and QuickBooks are the sandbox's.

What is checked is what a bookkeeper sees in QuickBooks (one customer, one Invoice with Keap's
total, CreditMemos for the refund and then the rest, nothing twice) and the order in ingest.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from scripts.stack import Stack
from tests.support.quickbooks_stack import (
    admin,
    connect_quickbooks,
    quickbooks_calls,
    quickbooks_stack,
    quickbooks_state,
    request_json,
    wait_until,
)
from tests.support.stores import KINDS, selected_kinds

pytestmark = pytest.mark.slow

HOOK_TOKEN = "kq-hook-token-" + "k" * 32
TOTAL, REFUND, REST = Decimal("425"), Decimal("100.50"), Decimal("324.50")


@pytest.fixture
def _on_each_store() -> None:
    """The stack below is started once per store, not once per test (see tests/e2e/conftest.py)."""


@pytest.fixture(scope="module", params=KINDS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    if request.param not in selected_kinds(request.config):
        pytest.skip(f"--stores leaves out {request.param}")
    with quickbooks_stack(Path(tmp_path_factory.mktemp("keapqb")), request.param) as running:
        yield running


class Shop:
    """One Keap app connected to its own QuickBooks company (each test its own)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        tag = uuid.uuid4().hex[:8]
        self.connection, self.api_key = f"kq{tag}", f"sak-{tag}"
        self.tenant = f"kq{tag}.infusionsoft.com"
        self.email = f"karen-{tag}@example.dk"
        sandbox = stack.url("sandbox")
        admin(stack, "ingest", "PUT", f"/connections/{self.connection}", {
            "platform": "keap", "secrets": [HOOK_TOKEN],
            "settings": {"shop_domain": self.tenant, "keap_deletions": True},
            "shop": {"admin_url": f"{sandbox}/keap/crm/rest", "admin_token": self.api_key},
        })  # fmt: skip
        self.realm = connect_quickbooks(stack, self.connection)
        # The company's products as a bookkeeper has them (make demo's): the order's SKUs,
        # shipping, and the product Keap's refunds (amounts without lines) are credited on.
        inventory = {"Type": "Inventory", "IncomeAccountRef": {"value": "1"},
                     "AssetAccountRef": {"value": "2"}, "TrackQtyOnHand": True,
                     "InvStartDate": "2026-01-01", "QtyOnHand": 50}  # fmt: skip
        service = {"Type": "Service", "IncomeAccountRef": {"value": "1"}}
        request_json("POST", f"{sandbox}/_sandbox/quickbooks/companies/{self.realm}/Item", body=[
            {"Name": "T-shirt red M", "Sku": "TSHIRT-RED-M", **inventory},
            {"Name": "Mug black", "Sku": "MUG-BLACK", **inventory},
            {"Name": "Shipping", "Sku": "SHIPPING", **service},
            {"Name": "Web refunds", "Sku": "WEB-DEFAULT", **service},
        ])  # fmt: skip
        path = f"/connections/{self.connection}/settings"
        current = admin(stack, "invoicing", "GET", path)
        # Keap's order carries 25% tax on every line: QuickBooks charges it by the lines' tax
        # code (the sandbox's "25.0% S"); without one the invoice would hold the net only.
        admin(stack, "invoicing", "PUT", path, {
            **current, "refund_product": "WEB-DEFAULT", "ledger_options": {"tax_code": "2"},
        })  # fmt: skip

    def _keap(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{self.stack.url('sandbox')}/_sandbox/keap/{self.api_key}{path}"
        return request_json(method, url, body=body)

    def deliver(self) -> list[str]:
        """Keap delivers its waiting hooks, each twice (as when an answer came late)."""
        sent = self._keap("POST", "/hooks/deliver", {"duplicate": True})["sent"]
        return sorted({s["event_key"] for s in sent})

    def paid_order(self) -> tuple[int, str]:
        contact = self._keap("POST", "/contacts", {
            "given_name": "Karen", "family_name": "Blixen",
            "email_addresses": [{"email": self.email, "field": "EMAIL1"}],
            "addresses": [{"field": "BILLING", "line1": "Rungstedvej 111", "locality": "Rungsted",
                           "postal_code": "2960", "country_code": "DNK"}],
        })  # fmt: skip
        order = self._keap("PUT", "/orders", {
            "contact_id": contact["id"], "status": "PAID",
            "order_items": [
                {"name": "T-shirt red M", "price": 120, "quantity": 2,
                 "product": {"id": 1, "sku": "TSHIRT-RED-M"}},
                {"name": "Mug black", "price": 60, "quantity": 1,
                 "product": {"id": 2, "sku": "MUG-BLACK"}},
                {"name": "Shipping", "type": "Shipping", "price": 40, "quantity": 1},
                {"name": "Moms", "type": "Tax", "price": 85, "quantity": 1},
            ],
        })  # fmt: skip
        return int(order["id"]), f"keap:{self.tenant}:{order['id']}"

    def refund(self, order_id: int, amount: Decimal) -> None:
        time.sleep(1.1)  # Keap's modification_date and hook timestamps count whole seconds
        self._keap("POST", f"/orders/{order_id}/refunds", {"amount": str(amount)})

    def delete(self, order_id: int) -> None:
        time.sleep(1.1)
        url = f"{self.stack.url('sandbox')}/keap/crm/rest/v1/orders/{order_id}"
        request = urllib.request.Request(
            url, method="DELETE", headers={"X-Keap-API-Key": self.api_key}
        )
        with urllib.request.urlopen(request, timeout=10) as gone:
            assert gone.status == 204

    def lose_replies(self, path: str, times: int) -> None:
        request_json("POST", f"{self.stack.url('sandbox')}/_sandbox/quickbooks/faults", body={
            "agreement": self.realm, "kind": "lost_reply", "path": path, "method": "POST",
            "times": times,
        })  # fmt: skip

    def order(self, key: str) -> dict[str, Any]:
        try:
            found: dict[str, Any] = admin(self.stack, "ingest", "GET", f"/orders/{key}")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
            return {"status": "not received yet"}
        return found

    def wait_status(self, key: str, status: str, timeout: float = 60) -> dict[str, Any]:
        try:
            return wait_until(  # type: ignore[no-any-return]
                lambda: (o := self.order(key))["status"] == status and o,
                timeout=timeout,
                what=f"{key} to be {status}",
            )
        except AssertionError:
            raise AssertionError(f"{key} not {status}: {self.order(key)}") from None


@contextmanager
def _killed_at(stack: Stack, *crashes: tuple[str, str] | None) -> Iterator[None]:
    """Each (service, failpoint) restarted to die there; after the block, each in turn (in the
    pipeline's order) is seen dying and is started again without it, as an orchestrator
    restarts a crashed process."""
    doomed = []
    for crash in filter(None, crashes):
        service, point = crash
        stack.kill(service)
        stack.start_one(service, {"LEDGERBRIDGE_FAILPOINTS": point})
        stack.wait_ready(service)
        doomed.append((service, point, stack.processes[service]))
    yield
    for service, point, process in doomed:
        wait_until(
            lambda p=process: p.poll() is not None,  # type: ignore[misc]
            timeout=60,
            what=f"{service} to die at {point}",
        )
        assert process.returncode == 137
        stack.start_one(service)
        stack.wait_ready(service)


def _mine(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [r for r in rows if key in str(r.get("PrivateNote", ""))]


def _run_the_order(shop: Shop, crash: dict[str, tuple[str, str] | None]) -> str:
    """The order made, refunded in part and deleted in Keap, each step through the pipeline;
    `crash`: per step (customer, invoice, refund, deletion) the (service, failpoint) to die at."""
    order_id, key = shop.paid_order()
    with _killed_at(shop.stack, crash.get("customer"), crash.get("invoice")):
        assert "order.add" in shop.deliver()
    shop.wait_status(key, "booked")

    with _killed_at(shop.stack, crash.get("refund")):
        shop.refund(order_id, REFUND)
        assert shop.deliver() == ["order.edit"]
    shop.wait_status(key, "partly_credited")

    with _killed_at(shop.stack, crash.get("deletion")):
        shop.delete(order_id)
        assert shop.deliver() == ["invoice.delete", "order.delete"]
    shop.wait_status(key, "credited")
    return key


def _assert_booked_once(shop: Shop, key: str) -> None:
    """What the bookkeeper sees: in QuickBooks and in ledgerbridge."""
    time.sleep(1.5)  # anything redelivered or retried late would show by now
    entities = quickbooks_state(shop.stack, shop.realm)
    customers = [
        c for c in entities.get("Customer", [])
        if c.get("PrimaryEmailAddr", {}).get("Address") == shop.email
    ]  # fmt: skip
    assert len(customers) == 1, f"{len(customers)} QuickBooks customers for one Keap buyer"
    [invoice] = _mine(entities.get("Invoice", []), key)
    assert Decimal(str(invoice["TotalAmt"])) == TOTAL
    assert invoice["CustomerRef"]["value"] == customers[0]["Id"]
    memos = _mine(entities.get("CreditMemo", []), key)
    amounts = sorted(Decimal(str(m["TotalAmt"])) for m in memos)
    assert amounts == [REFUND, REST], f"credit memos {amounts}, not the refund and the rest"
    assert sum(amounts) == TOTAL
    assert {m["CustomerRef"]["value"] for m in memos} == {customers[0]["Id"]}

    order = shop.order(key)
    assert order["status"] == "credited" and order["needs_attention"] is False
    assert str(order["customer_number"]) == customers[0]["Id"]
    assert str(order["invoice_number"]) == str(invoice["Id"])
    steps = [e["step"] for e in order["timeline"]]
    counted = {s: steps.count(s) for s in ("customer.resolved", "invoice.booked",
               "refund.received", "order.cancelled", "creditnote.booked")}  # fmt: skip
    assert counted == {"customer.resolved": 1, "invoice.booked": 1, "refund.received": 2,
                       "order.cancelled": 1, "creditnote.booked": 2}, steps  # fmt: skip
    notes = admin(shop.stack, "invoicing", "GET", f"/credit-notes?order_key={key}")
    assert sorted(n["step"] for n in notes) == ["booked", "booked"]
    assert sorted(Decimal(n["gross_amount"]) for n in notes) == [REFUND, REST]


def test_lost_replies_at_every_quickbooks_create_still_book_the_keap_order_once(stack: Stack):
    shop = Shop(stack)
    # Each create runs in QuickBooks, then its answer is lost: the customer, the invoice, and
    # both credit memos (the refund's, the deletion's).
    shop.lose_replies("/customer", 1)
    shop.lose_replies("/invoice", 1)
    shop.lose_replies("/creditmemo", 2)
    key = _run_the_order(shop, {})
    _assert_booked_once(shop, key)
    calls = quickbooks_calls(stack, shop.realm)
    # Each lost create was sent once more (the same requestid), nothing else was.
    assert (calls["POST /customer"], calls["POST /invoice"], calls["POST /creditmemo"]) == (2, 2, 4)


CRASHES = {
    # Killed after the step's intent is recorded, before the document is made.
    "before the write": {
        "invoice": ("invoicing", "invoicing.after_intent"),
        "refund": ("invoicing", "invoicing.creditnote_after_intent"),
        "deletion": ("invoicing", "invoicing.creditnote_after_intent"),
    },
    # Killed once QuickBooks made the document, before ledgerbridge recorded it: the restarted
    # process must find it (the customer by e-mail, the documents by DocNumber) not make another.
    "after the write": {
        "customer": ("customers", "customers.after_created"),
        "invoice": ("invoicing", "invoicing.after_booked"),
        "refund": ("invoicing", "invoicing.creditnote_after_booked"),
        "deletion": ("invoicing", "invoicing.creditnote_after_booked"),
    },
}


@pytest.mark.parametrize("when", list(CRASHES))
def test_a_service_killed_at_each_step_books_the_keap_order_once(stack: Stack, when: str):
    shop = Shop(stack)
    key = _run_the_order(shop, CRASHES[when])  # type: ignore[arg-type]
    _assert_booked_once(shop, key)
