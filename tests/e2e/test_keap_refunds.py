"""Keap refunds and deletions, end to end into e-conomic: a refund in Keap (the order's
refund_total grows, nothing else says so) becomes one credit note for what it added, a deletion
after a partial refund credits the rest, and redelivered hooks and re-fetches make nothing twice.
Keap is the sandbox's emulation; everything else is the real system."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

from tests.e2e.test_keap import HOOK_TOKEN, TENANT, _booked, _keap, _paid_order
from tests.e2e.test_keap import system as system
from tests.support.system import System


async def _connect(system: System, api_key: str) -> None:
    answer = await system.apps["ingest"].put(
        "/connections/keapshop",
        json={
            "platform": "keap",
            "secrets": [HOOK_TOKEN],
            "settings": {"shop_domain": TENANT, "keap_deletions": True},
            "shop": {"admin_url": "http://sandbox/keap/crm/rest", "admin_token": api_key},
        },
    )
    assert answer.status_code == 200, answer.text
    # Keap's refunds are amounts without lines: the bookkeeper names the product they go on.
    settings = await system.apps["invoicing"].put(
        "/connections/keapshop/settings", json={"refund_product": "WEB-DEFAULT"}
    )
    assert settings.status_code == 200, settings.text


async def _deliver(system: System, api_key: str) -> list[dict[str, Any]]:
    # Every waiting event twice, as Keap does when an answer came late.
    sent = await _keap(
        system, "POST", f"/_sandbox/keap/{api_key}/hooks/deliver", json={"duplicate": True}
    )
    return list(sent["sent"])


async def _refund(system: System, api_key: str, order_id: int, amount: str) -> None:
    await asyncio.sleep(1.1)  # Keap's modification_date and hook timestamps count whole seconds
    await _keap(
        system,
        "POST",
        f"/_sandbox/keap/{api_key}/orders/{order_id}/refunds",
        json={"amount": amount},
    )


def _notes(ledger: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [
        i
        for i in ledger["booked_invoices"]
        if Decimal(str(i["grossAmount"])) < 0 and i["references"]["other"].startswith(f"{key}:")
    ]


async def _wait_notes(system: System, key: str, count: int) -> list[dict[str, Any]]:
    for _ in range(300):
        notes = _notes(await system.ledger_state(), key)
        if len(notes) >= count:
            return notes
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"{key}: not {count} credit notes: {(await system.order(key))['timeline']}"
    )


async def _booked_order(system: System, api_key: str) -> tuple[int, str]:
    await _connect(system, api_key)
    order = await _paid_order(system, api_key)
    await _deliver(system, api_key)
    key = f"keap:{TENANT}:{order['id']}"
    await system.wait_for_status(key, "booked", timeout=60)
    return order["id"], key


async def test_a_keap_order_refunded_in_part_then_deleted_is_credited_to_its_total_once(
    system: System,
):
    api_key = f"sak-{uuid.uuid4().hex}"
    await _connect(system, api_key)
    tenant = await _keap(system, "GET", f"/_sandbox/keap/{api_key}/state")
    assert sorted(h["eventKey"] for h in tenant["hooks"]) == [
        "invoice.delete", "order.add", "order.delete", "order.edit"
    ]  # fmt: skip
    order_id, key = await _booked_order(system, api_key)

    await _refund(system, api_key, order_id, "100.50")
    [sent] = await _deliver(system, api_key)
    assert sent["event_key"] == "order.edit" and sent["times"] == 2
    [note] = await _wait_notes(system, key, 1)
    assert Decimal(str(note["grossAmount"])) == Decimal("-100.50")
    assert note["references"]["other"] == f"{key}:refund:refunded-to-date:100.50"
    await system.wait_for_status(key, "partly_credited", timeout=60)

    # Reconciliation reads the order again at that version: nothing new. A hook for the same
    # order with a later timestamp (Keap names it again) is fetched again: the same figure.
    again = (await system.apps["ingest"].post("/connections/keapshop/reconcile")).json()
    assert again["fed"] == 0
    late = await system.apps["ingest"].post(
        f"/webhooks/keap/keapshop/{HOOK_TOKEN}",
        json={"event_key": "order.edit", "object_type": "order",
              "object_keys": [{"id": order_id, "timestamp": "2099-01-01T00:00:00Z"}]},
    )  # fmt: skip
    assert late.json()["new"] == 1

    await asyncio.sleep(1.1)
    deleted = await system.apps["ingest"].get("/orders/" + key)  # still there in ledgerbridge
    assert deleted.status_code == 200
    async with system.sandbox() as sandbox:
        gone = await sandbox.delete(
            f"/keap/crm/rest/v1/orders/{order_id}", headers={"X-Keap-API-Key": api_key}
        )
    assert gone.status_code == 204, gone.text
    sent = await _deliver(system, api_key)
    assert sorted(s["event_key"] for s in sent) == ["invoice.delete", "order.delete"]

    notes = await _wait_notes(system, key, 2)
    assert sorted(Decimal(str(n["grossAmount"])) for n in notes) == [
        Decimal("-324.50"), Decimal("-100.50")
    ]  # fmt: skip
    order = await system.wait_for_status(key, "credited", timeout=60)
    assert order["needs_attention"] is False
    assert any(e["step"] == "order.cancelled" for e in order["timeline"])

    # Everything again: the deletion's hooks, Keap's retries; nothing more is made.
    for event in ("order.delete", "invoice.delete", "order.edit"):
        await system.apps["ingest"].post(
            f"/webhooks/keap/keapshop/{HOOK_TOKEN}",
            json={"event_key": event, "object_type": "order",
                  "object_keys": [{"id": order_id, "timestamp": "2099-01-02T00:00:00Z"}]},
        )  # fmt: skip
    await asyncio.sleep(2.0)
    ledger = await system.ledger_state()
    assert len(await _booked(system, key)) == 1  # one invoice
    assert len(_notes(ledger, key)) == 2
    [invoice] = await _booked(system, key)
    total = sum(Decimal(str(n["grossAmount"])) for n in _notes(ledger, key))
    assert -total == Decimal(str(invoice["grossAmount"])) == Decimal("425")


async def test_a_partial_then_a_full_refund_credit_each_step_and_a_later_deletion_nothing(
    system: System,
):
    api_key = f"sak-{uuid.uuid4().hex}"
    order_id, key = await _booked_order(system, api_key)
    await _refund(system, api_key, order_id, "25")
    await _deliver(system, api_key)
    await _wait_notes(system, key, 1)
    await _refund(system, api_key, order_id, "400")  # the rest: refunded in full
    await _deliver(system, api_key)
    notes = await _wait_notes(system, key, 2)
    assert sorted(Decimal(str(n["grossAmount"])) for n in notes) == [
        Decimal("-400"), Decimal("-25")
    ]  # fmt: skip
    await system.wait_for_status(key, "credited", timeout=60)

    async with system.sandbox() as sandbox:
        await sandbox.delete(
            f"/keap/crm/rest/v1/orders/{order_id}", headers={"X-Keap-API-Key": api_key}
        )
    await _deliver(system, api_key)
    for _ in range(100):
        timeline = (await system.order(key))["timeline"]
        if any(e["step"] == "order.cancelled" for e in timeline):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the deletion was not taken in: {timeline}")
    await asyncio.sleep(1.5)
    assert len(_notes(await system.ledger_state(), key)) == 2


async def test_a_keap_order_deleted_without_refunds_is_cancelled_as_shopifys_are(system: System):
    api_key = f"sak-{uuid.uuid4().hex}"
    order_id, key = await _booked_order(system, api_key)
    await asyncio.sleep(1.1)
    async with system.sandbox() as sandbox:
        await sandbox.delete(
            f"/keap/crm/rest/v1/orders/{order_id}", headers={"X-Keap-API-Key": api_key}
        )
    await _deliver(system, api_key)
    [note] = await _wait_notes(system, key, 1)
    assert note["references"]["other"] == f"{key}:cancel"
    assert Decimal(str(note["grossAmount"])) == Decimal("-425")
    await system.wait_for_status(key, "credited", timeout=60)


async def test_an_unpaid_keap_order_deleted_before_it_was_booked_is_never_booked(system: System):
    api_key = f"sak-{uuid.uuid4().hex}"
    await _connect(system, api_key)
    order = await _paid_order(system, api_key, status="SENT", total_paid=0)
    await _deliver(system, api_key)
    key = f"keap:{TENANT}:{order['id']}"
    await system.wait_for_status(key, "waiting", timeout=60)
    await asyncio.sleep(1.1)
    async with system.sandbox() as sandbox:
        await sandbox.delete(
            f"/keap/crm/rest/v1/orders/{order['id']}", headers={"X-Keap-API-Key": api_key}
        )
    await _deliver(system, api_key)
    cancelled = await system.wait_for_status(key, "cancelled", timeout=60)
    assert cancelled["invoice_number"] is None
    await asyncio.sleep(1.0)
    # Nothing went on to the ledger: the order never left ingest.
    steps = {e["step"] for e in (await system.order(key))["timeline"]}
    assert "order.transferred" not in steps and not any(s.startswith("invoice.") for s in steps)
    # A deletion of an order ledgerbridge never took in is named, and changes nothing.
    never = {"event_key": "order.delete", "object_type": "order",
             "object_keys": [{"id": 555555, "timestamp": "2026-11-28T10:00:00Z"}]}  # fmt: skip
    await system.apps["ingest"].post(f"/webhooks/keap/keapshop/{HOOK_TOKEN}", json=never)
    for _ in range(100):
        gone = (await system.apps["ingest"].get("/notified", params={"status": "gone"})).json()
        if gone:
            break
        await asyncio.sleep(0.1)
    [row] = gone
    assert row["object_id"] == "555555" and "holds no copy" in row["error"]


async def test_keap_credits_that_failed_are_replayed_after_the_fix_without_a_cancellation(
    system: System,
):
    api_key = f"sak-{uuid.uuid4().hex}"
    order_id, key = await _booked_order(system, api_key)
    invoicing = system.apps["invoicing"]
    # No product to credit an amount on: the refund and the deletion's rest both stop.
    await invoicing.put("/connections/keapshop/settings", json={"refund_product": None})
    await _refund(system, api_key, order_id, "100")
    await _deliver(system, api_key)
    failed = await system.wait_for_status(key, "credit_failed", timeout=60)
    assert "refund product" in failed["status_reason"]
    await asyncio.sleep(1.1)
    async with system.sandbox() as sandbox:
        await sandbox.delete(
            f"/keap/crm/rest/v1/orders/{order_id}", headers={"X-Keap-API-Key": api_key}
        )
    await _deliver(system, api_key)
    for _ in range(150):
        parked = (await invoicing.get("/parked")).json()
        if len(parked) == 2:
            break
        await asyncio.sleep(0.1)
    assert sorted(p["type"] for p in parked) == ["order.refunded", "order.refunded"]

    await invoicing.put("/connections/keapshop/settings", json={"refund_product": "WEB-DEFAULT"})
    replay = await system.apps["ingest"].post(f"/orders/{key}/replay")
    assert replay.status_code == 202, replay.text
    assert "send its 2 refund(s) again" in replay.json()["action"]
    assert "cancellation" not in replay.json()["action"]
    notes = await _wait_notes(system, key, 2)
    assert sorted(Decimal(str(n["grossAmount"])) for n in notes) == [
        Decimal("-325"), Decimal("-100")
    ]  # fmt: skip
    order = await system.wait_for_status(key, "credited", timeout=60)
    assert order["needs_attention"] is False
    await asyncio.sleep(1.0)
    assert len(_notes(await system.ledger_state(), key)) == 2


async def test_with_deletions_off_the_delete_hooks_go_and_a_deletion_is_kept_not_acted_on(
    system: System,
):
    api_key = f"sak-{uuid.uuid4().hex}"
    order_id, key = await _booked_order(system, api_key)
    answer = await system.apps["ingest"].put(
        "/connections/keapshop",
        json={
            "platform": "keap",
            "secrets": [HOOK_TOKEN],
            "settings": {"shop_domain": TENANT, "keap_deletions": False},
            "shop": {"admin_url": "http://sandbox/keap/crm/rest", "admin_token": api_key},
        },
    )
    assert answer.status_code == 200, answer.text
    tenant = await _keap(system, "GET", f"/_sandbox/keap/{api_key}/state")
    assert sorted(h["eventKey"] for h in tenant["hooks"]) == ["order.add", "order.edit"]
    shown = (await system.apps["ingest"].get("/connections/keapshop")).json()
    states = {s["topic"]: s["state"] for s in shown["onboarding"]["webhook_subscriptions"]}
    assert states["order.delete"] == states["invoice.delete"] == "removed"

    await asyncio.sleep(1.1)
    async with system.sandbox() as sandbox:
        await sandbox.delete(
            f"/keap/crm/rest/v1/orders/{order_id}", headers={"X-Keap-API-Key": api_key}
        )
    assert await _deliver(system, api_key) == []  # no hook for it any more
    # One sent all the same (a hook made by hand) is kept and changes nothing.
    stray = await system.apps["ingest"].post(
        f"/webhooks/keap/keapshop/{HOOK_TOKEN}",
        json={"event_key": "order.delete", "object_type": "order",
              "object_keys": [{"id": order_id, "timestamp": "2026-11-28T12:00:00Z"}]},
    )  # fmt: skip
    assert stray.json()["status"] == "stored"
    await asyncio.sleep(1.0)
    order = await system.order(key)
    assert order["status"] == "booked"
    assert not any(e["step"] == "order.cancelled" for e in order["timeline"])
