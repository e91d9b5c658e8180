"""Refunds and cancellations become credit notes: once each, adding up, never over-crediting.

The refund is the public VND capture (tests/fixtures/public), posted byte for byte, against an
order built to match it (same order id and line)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from lb_common.runtime import ServiceRuntime
from tests.platforms.factories import fixture, shopify_json, shopify_order
from tests.support.system import System, running_system

REFUND = fixture("shopify_refunds_create_VND.json")
REFUND_DATA = json.loads(REFUND)
VIETNAM = {
    "first_name": "Lan", "last_name": "Nguyen", "name": "Lan Nguyen", "address1": "1 Le Loi",
    "city": "Ho Chi Minh City", "zip": "700000", "country": "Vietnam", "country_code": "VN",
}  # fmt: skip


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


def vnd_order(**changes) -> bytes:
    body = shopify_order(
        id=REFUND_DATA["order_id"],
        currency="VND",
        tax_rate=None,
        taxes_included=False,
        email="lan@example.com",
        lines=[
            {"id": 16014782595357, "sku": None, "title": "T-shirt 1", "price": "20", "quantity": 2}
        ],
        billing_address=VIETNAM,
        shipping_address=VIETNAM,
        **changes,
    )
    return shopify_json(body)


def refund_body(refund_id: int, quantity: int = 1, subtotal: int = 20) -> bytes:
    data = json.loads(REFUND)
    data["id"] = refund_id
    data["refund_line_items"][0].update(quantity=quantity, subtotal=subtotal)
    data["transactions"][0]["amount"] = str(subtotal)
    return json.dumps(data).encode()


async def _listed(system: System, key: str, **filters: str) -> bool:
    response = await system.apps["ingest"].get("/orders", params=filters)
    assert response.status_code == 200, response.text
    return key in {o["order_key"] for o in response.json()["orders"]}


async def _booked_order(system: System) -> str:
    key = (await system.post_shopify("orders/paid", vnd_order())).json()["order_key"]
    await system.wait_for_status(key, "booked")
    return key


async def _wait_step(system: System, key: str, step: str, count: int = 1) -> list[dict]:
    import asyncio

    for _ in range(150):
        entries = [e for e in (await system.order(key))["timeline"] if e["step"] == step]
        if len(entries) >= count:
            return entries
        await asyncio.sleep(0.1)
    raise AssertionError(f"{key} has no {count} x {step}: {(await system.order(key))['timeline']}")


def _credit_notes(ledger: dict) -> list[dict]:
    return [i for i in ledger["booked_invoices"] if Decimal(str(i["grossAmount"])) < 0]


async def test_public_vnd_refund_becomes_one_credit_note(system: System):
    key = await _booked_order(system)
    response = await system.post_shopify("refunds/create", REFUND)
    assert response.status_code == 200, response.text
    # The same refund again, inside an orders/updated body and as a redelivery: still one.
    await system.post_shopify("refunds/create", REFUND)
    await _wait_step(system, key, "creditnote.booked")

    ledger = await system.ledger_state()
    [note] = _credit_notes(ledger)
    [invoice] = [i for i in ledger["booked_invoices"] if i is not note]
    assert Decimal(str(note["grossAmount"])) == Decimal("-20")
    assert note["customer"] == invoice["customer"]
    assert note["currency"] == "VND"
    assert note["references"]["other"] == f"{key}:refund:{REFUND_DATA['id']}"
    assert [
        (line["product"]["productNumber"], Decimal(str(line["quantity"]))) for line in note["lines"]
    ] == [("WEB-DEFAULT", Decimal(-1))]


async def test_partial_refunds_add_up_and_never_credit_more_than_invoiced(system: System):
    key = await _booked_order(system)  # 2 x 20 VND
    await system.post_shopify("refunds/create", refund_body(1))
    await _wait_step(system, key, "creditnote.booked")
    assert (await system.wait_for_status(key, "partly_credited"))["needs_attention"] is False
    await system.post_shopify("refunds/create", refund_body(2))
    await _wait_step(system, key, "creditnote.booked", 2)
    assert (await system.wait_for_status(key, "credited"))["needs_attention"] is False
    # A third refund would credit more than the invoice held: stopped, with the figures.
    await system.post_shopify("refunds/create", refund_body(3))
    failed = await system.wait_for_status(key, "credit_failed")
    entries = await _wait_step(system, key, "invoicing.failed")
    assert "more than invoice" in entries[0]["message"]
    assert "VND 60" in entries[0]["message"] and "VND 40" in entries[0]["message"]
    ledger = await system.ledger_state()
    assert sum(Decimal(str(n["grossAmount"])) for n in _credit_notes(ledger)) == Decimal("-40")
    # The invoice stands and the credits went as far as they could; the refusal needs a person
    # and is found by the filters.
    assert failed["progress"] == "credited" and failed["needs_attention"] is True
    assert "more than invoice" in failed["status_reason"]
    [problem] = failed["problems"]
    assert problem["what"] == "credit" and problem["service"] == "invoicing"
    assert await _listed(system, key, status="credit_failed")
    assert await _listed(system, key, needs_attention="true")
    assert not await _listed(system, key, needs_attention="false")


async def test_cancellation_after_booking_credits_what_is_left(system: System):
    key = await _booked_order(system)
    await system.post_shopify("refunds/create", refund_body(7))
    await _wait_step(system, key, "creditnote.booked")
    cancelled = vnd_order(
        cancelled_at="2025-03-02T09:00:00Z",
        updated_at="2025-03-02T09:00:00Z",
        financial_status="refunded",
    )
    await system.post_shopify("orders/cancelled", cancelled)
    await _wait_step(system, key, "creditnote.booked", 2)
    ledger = await system.ledger_state()
    notes = _credit_notes(ledger)
    assert sorted(Decimal(str(n["grossAmount"])) for n in notes) == [Decimal("-20"), Decimal("-20")]
    assert {n["references"]["other"] for n in notes} == {f"{key}:refund:7", f"{key}:cancel"}
    # Cancelled and credited in full: the order says so (it no longer reads "booked").
    order = await system.wait_for_status(key, "credited")
    assert order["invoice_number"] is not None and order["needs_attention"] is False


async def test_a_refund_whose_booking_reply_was_lost_still_counts_its_lines(system: System):
    # The credit note for the refund is booked, but the reply is lost (the sandbox does not
    # replay the POST): the retry finds it by its reference. e-conomic's list has no lines, so
    # it is read by number; the cancellation then credits only the T-shirt left, not both.
    key = await _booked_order(system)
    async with system.sandbox() as sandbox:
        fault = {"kind": "lost_reply", "path": "/invoices/booked", "method": "POST", "times": 1}
        assert (await sandbox.post("/_sandbox/faults", json=fault)).status_code == 201
    await system.post_shopify("refunds/create", refund_body(7))
    await _wait_step(system, key, "creditnote.booked")
    assert "retry" in [e["step"] for e in (await system.order(key))["timeline"]]
    cancelled = vnd_order(
        cancelled_at="2025-03-02T09:00:00Z",
        updated_at="2025-03-02T09:00:00Z",
        financial_status="refunded",
    )
    await system.post_shopify("orders/cancelled", cancelled)
    await _wait_step(system, key, "creditnote.booked", 2)
    notes = _credit_notes(await system.ledger_state())
    assert sorted(Decimal(str(n["grossAmount"])) for n in notes) == [Decimal("-20"), Decimal("-20")]
    order = await system.wait_for_status(key, "credited")
    assert order["needs_attention"] is False


async def test_a_refund_after_the_cancellation_credited_everything_is_covered(system: System):
    # Seen in make chaos: the cancellation arrives (and is credited) before a refund the shop
    # made earlier. The cancellation credited all the invoice held, the refund's money too.
    key = await _booked_order(system)
    cancelled = vnd_order(
        cancelled_at="2025-03-02T09:00:00Z",
        updated_at="2025-03-02T09:00:00Z",
        financial_status="refunded",
    )
    await system.post_shopify("orders/cancelled", cancelled)
    await _wait_step(system, key, "creditnote.booked")
    await system.post_shopify("refunds/create", refund_body(8))
    [covered] = await _wait_step(system, key, "creditnote.skipped")
    assert "covered by credit note" in covered["message"], covered
    ledger = await system.ledger_state()
    assert [n["references"]["other"] for n in _credit_notes(ledger)] == [f"{key}:cancel"]
    assert ledger["drafts"] == []
    order = await system.wait_for_status(key, "credited")
    assert order["needs_attention"] is False
    parked = (await system.apps["invoicing"].get("/parked")).json()
    assert parked == [], parked


async def test_refund_before_the_invoice_waits_for_it(system: System):
    # The refund arrives first (the order was never seen): held, then sent after the invoice.
    await system.post_shopify("refunds/create", REFUND)
    key = (await system.post_shopify("orders/paid", vnd_order())).json()["order_key"]
    # The held refund may be credited before we look: booked, then partly credited.
    await system.wait_for_status(key, "partly_credited")
    await _wait_step(system, key, "creditnote.booked")
    steps = [e["step"] for e in (await system.order(key))["timeline"]]
    assert (
        steps.index("refund.held")
        < steps.index("invoice.booked")
        < steps.index("creditnote.booked")
    )


def amount_only_refund(refund_id: int, amount: str) -> bytes:
    """A refund of money only (no goods, no shipping), like a goodwill discount afterwards."""
    data = json.loads(REFUND)
    data.update(id=refund_id, refund_line_items=[], order_adjustments=[])
    data["transactions"][0]["amount"] = amount
    return json.dumps(data).encode()


async def test_a_credit_that_failed_is_found_replayed_after_the_fix_and_leaves_parking(
    system: System,
):
    key = await _booked_order(system)
    invoicing = system.apps["invoicing"]
    settings = (await invoicing.get("/connections/demo/settings")).json()
    # No product to put an amount-only refund on.
    bare = {**settings, "missing_sku": "fail", "default_product": None, "refund_product": None}
    assert (await invoicing.put("/connections/demo/settings", json=bare)).status_code == 200
    await system.post_shopify("refunds/create", amount_only_refund(11, "15"))
    failed = await system.wait_for_status(key, "credit_failed")
    assert "refund product" in failed["status_reason"] and failed["needs_attention"] is True
    assert await _listed(system, key, needs_attention="true")
    [parked] = (await invoicing.get("/parked")).json()
    assert parked["type"] == "order.refunded" and parked["settled"] is None
    assert parked["attempts"] == 1

    # The fix the reason asks for, then a replay from the order: the refund is sent again.
    fixed = {**settings, "refund_product": "WEB-DEFAULT"}
    assert (await invoicing.put("/connections/demo/settings", json=fixed)).status_code == 200
    replay = await system.apps["ingest"].post(f"/orders/{key}/replay")
    assert replay.status_code == 202, replay.text
    assert "refund" in replay.json()["action"]
    order = await system.wait_for_status(key, "partly_credited")
    assert order["needs_attention"] is False and order["status_reason"] is None
    ledger = await system.ledger_state()
    [note] = _credit_notes(ledger)
    assert Decimal(str(note["grossAmount"])) == Decimal("-15")
    assert len(ledger["booked_invoices"]) == 2  # the invoice and one credit note

    # The parked copy is now known to be done: shown so, and a retry removes it, crediting
    # nothing twice.
    [stale] = (await invoicing.get("/parked")).json()
    assert stale["message_id"] == parked["message_id"]
    assert "credit note" in stale["settled"] and "is booked" in stale["settled"]
    retried = await invoicing.post(f"/parked/{parked['message_id']}/retry")
    assert retried.status_code == 200 and retried.json()["settled"] == stale["settled"]
    assert (await invoicing.get("/parked")).json() == []
    entries = await _wait_step(system, key, "parked.dismissed")
    assert "Already done" in entries[0]["message"]
    assert len(_credit_notes(await system.ledger_state())) == 1
    assert (await system.order(key))["status"] == "partly_credited"


OUTCOME_STEPS = ("creditnote.booked", "creditnote.skipped", "invoicing.failed")


async def _outcomes(system: System, key: str, count: int, timeout: float = 60.0) -> list[dict]:
    """Wait for `count` credit outcomes on the timeline (booked, or failed for good)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        timeline = (await system.order(key))["timeline"]
        done = [e for e in timeline if e["step"] in OUTCOME_STEPS]
        if len(done) >= count or loop.time() > deadline:
            return timeline
        await asyncio.sleep(0.2)


async def test_two_replicas_never_credit_more_than_the_invoice(amqp_url, broker_prefix, tmp_path):
    # Contention retried for long enough to outlast the slow ledger below.
    async with running_system(
        amqp_url, broker_prefix, tmp_path, common_overrides={"retry_contention": "250ms x60"}
    ) as system:
        await _refund_and_cancel_at_once(system)


async def _refund_and_cancel_at_once(system: System) -> None:
    key = await _booked_order(system)  # 2 x 20 VND
    # A second invoicing replica on the same database and queue.
    url = await system.store.url("invoicing") if system.store is not None else None
    replica = ServiceRuntime(system._parts("invoicing", url))
    await replica.start()
    try:
        # A slow ledger: both credit notes are being made, checked and booked at the same time.
        async with system.sandbox() as sandbox:
            for path in ("/invoices/drafts", "/invoices/booked"):
                slow = {"kind": "latency", "path": path, "method": "POST", "latencyMs": 1000}
                answer = await sandbox.post("/_sandbox/faults", json=slow)
                assert answer.status_code == 201, answer.text
        cancelled = vnd_order(
            cancelled_at="2025-03-02T09:00:00Z",
            updated_at="2025-03-02T09:00:00Z",
            financial_status="refunded",
        )
        await asyncio.gather(
            system.post_shopify("refunds/create", refund_body(5)),
            system.post_shopify("orders/cancelled", cancelled),
        )
        timeline = await _outcomes(system, key, 2)
    finally:
        await replica.stop()

    ledger = await system.ledger_state()
    credited = -sum(Decimal(str(n["grossAmount"])) for n in _credit_notes(ledger))
    assert credited == Decimal("40"), [n["references"]["other"] for n in _credit_notes(ledger)]
    # One after the other: the second met the order's lease and waited for the first. Then
    # either the refund (20) and what was left (20) were credited, or the cancellation credited
    # all 40 and the refund, handled after it, was covered by it.
    assert any(
        e["step"] == "retry" and "Another invoicing worker" in e["message"] for e in timeline
    ), [e["message"] for e in timeline if e["step"] == "retry"]
    booked = [e for e in timeline if e["step"] == "creditnote.booked"]
    failed = [e for e in timeline if e["step"] == "invoicing.failed"]
    assert failed == [], failed
    if len(booked) != 2:
        [only] = booked
        assert "the cancellation" in only["message"]
        [covered] = [e for e in timeline if e["step"] == "creditnote.skipped"]
        assert "covered by credit note" in covered["message"]


async def test_a_credit_note_draft_left_unbooked_still_counts_until_it_is_deleted(
    system: System,
):
    key = await _booked_order(system)  # 2 x 20 VND
    # A refund of 50 on an invoice of 40: refused, its draft left for a bookkeeper.
    await system.post_shopify("refunds/create", refund_body(21, quantity=1, subtotal=50))
    [first] = await _wait_step(system, key, "invoicing.failed")
    assert "VND 50.00 in all, more than invoice" in first["message"]
    draft = next(
        d for d in (await system.ledger_state())["drafts"]
        if d["references"]["other"] == f"{key}:refund:21"
    )  # fmt: skip

    # A refund of 20 would fit the invoice, but not with that draft booked too.
    await system.post_shopify("refunds/create", refund_body(22))
    second = (await _wait_step(system, key, "invoicing.failed", 2))[1]
    assert "VND 70.00 in all (VND 50.00 of it in draft credit note" in second["message"]
    assert f"{draft['draftInvoiceNumber']} for refund 21, not booked yet" in second["message"]
    assert _credit_notes(await system.ledger_state()) == []

    # The bookkeeper deletes that draft; the refund of 20 goes through on its retry.
    async with system.sandbox() as sandbox:
        deleted = await sandbox.delete(
            f"/economic/invoices/drafts/{draft['draftInvoiceNumber']}",
            headers={"X-AppSecretToken": "test-app", "X-AgreementGrantToken": system.grant},
        )
        assert deleted.status_code in (200, 204), deleted.text
    invoicing = system.apps["invoicing"]
    [parked] = [
        p for p in (await invoicing.get("/parked")).json() if "for refund 22" in p["reason"]
    ]  # fmt: skip
    assert (await invoicing.post(f"/parked/{parked['message_id']}/retry")).status_code == 202
    await _wait_step(system, key, "creditnote.booked")
    [note] = _credit_notes(await system.ledger_state())
    assert note["references"]["other"] == f"{key}:refund:22"


@pytest.mark.parametrize("fault", ["error", "lost_reply"])
async def test_a_refund_in_flight_when_the_cancellation_comes_is_taken_over_by_it(
    amqp_url, broker_prefix, tmp_path, fault: str
):
    # Seen in make chaos: the refund's draft failed (nothing in the ledger: "error") or was made
    # with its reply lost (a draft in the ledger: "lost_reply"), and before its retry the
    # cancellation came. The cancellation credits everything and the refund is covered by it:
    # before, the two waited on each other's draft and both parked, or the refund's retry found
    # the invoice credited already and parked with a stray draft.
    async with running_system(
        amqp_url, broker_prefix, tmp_path, common_overrides={"retry_ledger_unavailable": "8s x5"}
    ) as system:
        key = await _booked_order(system)  # 2 x 20 VND
        async with system.sandbox() as sandbox:
            spec = {"kind": fault, "path": "/invoices/drafts", "method": "POST", "times": 1}
            assert (await sandbox.post("/_sandbox/faults", json=spec)).status_code == 201
        await system.post_shopify("refunds/create", refund_body(31))
        await _wait_step(system, key, "retry")
        cancelled = vnd_order(
            cancelled_at="2025-03-02T09:00:00Z",
            updated_at="2025-03-02T09:00:00Z",
            financial_status="refunded",
        )
        await system.post_shopify("orders/cancelled", cancelled)
        timeline = await _outcomes(system, key, 2)

        outcomes = {e["step"]: e["message"] for e in timeline if e["step"] in OUTCOME_STEPS}
        assert "invoicing.failed" not in outcomes, outcomes
        assert "covered by credit note" in outcomes["creditnote.skipped"], outcomes
        ledger = await system.ledger_state()
        notes = _credit_notes(ledger)
        assert [n["references"]["other"] for n in notes] == [f"{key}:cancel"]
        assert Decimal(str(notes[0]["grossAmount"])) == Decimal("-40")
        assert ledger["drafts"] == []  # the refund's draft (lost reply) was deleted
        order = await system.wait_for_status(key, "credited")
        assert order["needs_attention"] is False
        assert (await system.apps["invoicing"].get("/parked")).json() == []
