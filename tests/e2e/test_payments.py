"""Orders paid up front: the payment is registered against the booked invoice, in a journal,
on a posting (suspense) account, once; a refused account leaves the invoice booked and says
which account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from lb_sandbox.economic.accounting_years import set_accounting_years
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.system import System, running_system


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


async def _payment_settings(system: System, contra_account: int, **extra: Any) -> None:
    invoicing = system.apps["invoicing"]
    current = (await invoicing.get("/connections/demo/settings")).json()
    current["payment_registration"] = {
        "journal": 1,
        "contra_account": contra_account,
        **extra,
    }
    answer = await invoicing.put("/connections/demo/settings", json=current)
    assert answer.status_code == 200, answer.text


async def _wait_step(system: System, key: str, step: str, count: int = 1) -> list[dict]:
    for _ in range(200):
        entries = [e for e in (await system.order(key))["timeline"] if e["step"] == step]
        if len(entries) >= count:
            return entries
        await asyncio.sleep(0.1)
    raise AssertionError(f"{key} has no {count} x {step}: {(await system.order(key))['timeline']}")


def _payments(ledger: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        payment
        for voucher in ledger["vouchers"]
        for payment in voucher["entries"].get("customerPayments", [])
    ]


async def test_paid_order_registers_its_payment_once(system: System):
    await _payment_settings(system, 5820)
    body = shopify_json(shopify_order(lines=[{"sku": "MUG-BLACK"}]))
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    await system.wait_for_status(key, "booked")
    [step] = await _wait_step(system, key, "payment.registered")
    ledger = await system.ledger_state()
    [invoice] = ledger["booked_invoices"]
    assert len(ledger["vouchers"]) == 1
    [payment] = _payments(ledger)
    assert payment["customer"]["customerNumber"] == invoice["customer"]["customerNumber"]
    assert payment["contraAccount"]["accountNumber"] == 5820
    assert payment["customerInvoice"] == invoice["bookedInvoiceNumber"]
    assert Decimal(str(payment["amount"])) == -Decimal(str(invoice["grossAmount"]))
    assert payment["currency"]["code"] == invoice["currency"]
    assert payment["date"] == invoice["date"]
    assert payment["text"].startswith("Webshop order #") and " paid via " in payment["text"]
    link = (await system.apps["invoicing"].get(f"/invoices/{key}")).json()
    assert link["payment_voucher"] == step["details"]["voucher"]
    assert link["payment_voucher"].endswith(f"-{ledger['vouchers'][0]['voucherNumber']}")


async def test_status_not_counted_as_paid_registers_no_payment(system: System):
    await _payment_settings(system, 5820, paid_statuses=["authorized"])
    body = shopify_json(shopify_order(lines=[{"sku": "MUG-BLACK"}]))
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    await system.wait_for_status(key, "booked")
    assert (await system.ledger_state())["vouchers"] == []


async def test_refused_account_keeps_the_invoice_and_names_the_account(system: System):
    await _payment_settings(system, 9999)
    body = shopify_json(shopify_order(lines=[{"sku": "MUG-BLACK"}]))
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    [failure] = await _wait_step(system, key, "invoicing.failed")
    assert "account 9999" in failure["message"] and "Invoice 1 is booked" in failure["message"]
    ledger = await system.ledger_state()
    assert len(ledger["booked_invoices"]) == 1 and ledger["vouchers"] == []
    link = (await system.apps["invoicing"].get(f"/invoices/{key}")).json()
    assert link["step"] == "booked" and link["payment_voucher"] is None


async def test_failed_payment_step_is_replayed_from_the_order(system):
    invoicing = system.apps["invoicing"]
    settings = (await invoicing.get("/connections/demo/settings")).json()
    await invoicing.put(
        "/connections/demo/settings",
        json={**settings, "payment_registration": {"journal": 1, "contra_account": 9999}},
    )
    body = shopify_json(shopify_order(lines=[{"sku": "MUG-BLACK", "title": "Mug"}]))
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    # Booked, but the payment step failed: the order is failed (not hidden behind "booked"),
    # and the status filter finds it.
    for _ in range(100):  # the failure may be reported before the booking (out of order)
        order = await system.order(key)
        if order["status"] == "failed" and order["progress"] == "booked":
            break
        await asyncio.sleep(0.1)
    assert order["status"] == "failed" and order["progress"] == "booked"
    assert "9999" in order["status_reason"] and order["invoice_number"] is not None
    assert order["needs_attention"] is True
    failed = (await system.apps["ingest"].get("/orders", params={"status": "failed"})).json()
    assert key in {o["order_key"] for o in failed["orders"]}

    await invoicing.put(
        "/connections/demo/settings",
        json={**settings, "payment_registration": {"journal": 1, "contra_account": 5820}},
    )
    replay = await system.apps["ingest"].post(f"/orders/{key}/replay")
    assert replay.status_code == 202, replay.text
    for _ in range(150):
        order = await system.order(key)
        steps = [e["step"] for e in order["timeline"]]
        if order["status"] == "booked" and "payment.registered" in steps:
            break
        await asyncio.sleep(0.1)
    assert order["status"] == "booked" and order["status_reason"] is None
    assert order["needs_attention"] is False
    ledger = await system.ledger_state()
    assert len(ledger["vouchers"]) == 1
    assert len(ledger["booked_invoices"]) == 1


async def _fiscal_years(system: System, years: list[tuple[date, date, bool]]) -> None:
    """The agreement's accounting years, as a bookkeeper set them up in e-conomic."""
    headers = {"X-AppSecretToken": "test-app", "X-AgreementGrantToken": system.grant}
    async with system.sandbox() as sandbox:
        assert (await sandbox.get("/economic/accounting-years", headers=headers)).is_success
    set_accounting_years(system.sandbox_app.state.registry.find(system.grant), years)


async def test_a_fiscal_year_that_is_not_the_calendar_year_gets_the_payment(system: System):
    # July to June: the order of 1 March 2025 falls in accounting year "2024/2025"; there is no
    # year "2025" to post into.
    await _fiscal_years(
        system,
        [
            (date(2023, 7, 1), date(2024, 6, 30), True),
            (date(2024, 7, 1), date(2025, 6, 30), False),
            (date(2025, 7, 1), date(2026, 6, 30), False),
        ],
    )
    await _payment_settings(system, 5820)
    body = shopify_json(
        shopify_order(lines=[{"sku": "MUG-BLACK"}], created_at="2025-03-01T10:00:00+01:00")
    )
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    [step] = await _wait_step(system, key, "payment.registered")
    ledger = await system.ledger_state()
    [voucher] = ledger["vouchers"]
    assert voucher["accountingYear"]["year"] == "2024/2025"
    assert step["details"]["voucher"] == f"2024/2025-{voucher['voucherNumber']}"
    assert (await system.order(key))["status"] == "booked"


async def test_a_payment_dated_in_a_closed_year_fails_in_a_bookkeepers_words(system: System):
    await _fiscal_years(
        system,
        [
            (date(2024, 7, 1), date(2025, 6, 30), True),
            (date(2025, 7, 1), date(2026, 6, 30), False),
        ],
    )
    await _payment_settings(system, 5820)
    body = shopify_json(
        shopify_order(lines=[{"sku": "MUG-BLACK"}], created_at="2025-03-01T10:00:00+01:00")
    )
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    for _ in range(100):
        order = await system.order(key)
        if order["status"] == "failed" and order["progress"] == "booked":
            break
        await asyncio.sleep(0.1)
    assert order["status"] == "failed" and order["invoice_number"] is not None, order
    reason = order["status_reason"]
    assert "2025-03-01" in reason and "2024/2025" in reason and "closed" in reason, reason
    assert "replay" in reason
    assert (await system.ledger_state())["vouchers"] == []


async def test_a_lost_reply_on_the_voucher_registers_the_payment_once(system: System):
    # The sandbox does not replay a keyed POST (its default, as restapi's replay is
    # unconfirmed): the retry finds the payment in the journal by the order key in its text.
    await _payment_settings(system, 5820)
    async with system.sandbox() as sandbox:
        fault = {"kind": "lost_reply", "path": "/journals/1/vouchers", "method": "POST", "times": 1}
        assert (await sandbox.post("/_sandbox/faults", json=fault)).status_code == 201
    body = shopify_json(shopify_order(lines=[{"sku": "MUG-BLACK"}]))
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    [step] = await _wait_step(system, key, "payment.registered")
    ledger = await system.ledger_state()
    [voucher] = ledger["vouchers"]
    [payment] = _payments(ledger)
    assert payment["text"].endswith(f"[{key}]")
    assert step["details"]["voucher"].endswith(f"-{voucher['voucherNumber']}")
    order = await system.order(key)
    assert order["status"] == "booked"
    assert "retry" in [e["step"] for e in order["timeline"]]
