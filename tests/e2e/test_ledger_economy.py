"""What an order costs in e-conomic calls (the agreement's budget is shared and limited), and
that the reads we save never cost correctness: a lost reply still makes one document, and a
product that changed in the ledger after we cached it still ends in a booked invoice.

Calls are counted by the sandbox per endpoint (GET /_sandbox/agreements/{token}/calls).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from lb_sandbox.settings import SandboxSettings
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.system import System, running_system


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


async def _calls(system: System) -> Counter[str]:
    async with system.sandbox() as sandbox:
        answer = await sandbox.get(f"/_sandbox/agreements/{system.grant}/calls")
    answer.raise_for_status()
    return Counter(answer.json()["calls"])


async def _order(system: System, email: str, sku: str = "MUG-BLACK") -> str:
    body = shopify_json(
        shopify_order(lines=[{"sku": sku, "title": "Mug", "price": "75.00"}], email=email)
    )
    answer = await system.post_shopify("orders/paid", body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["order_key"])


async def _booked_and_stock_read(system: System, key: str) -> dict:
    """Booked, and inventory has read the stock after it (its calls are counted too)."""
    order = await system.wait_for_status(key, "booked", timeout=30)
    for _ in range(300):
        order = await system.order(key)
        if any(step["step"] == "stock.read" for step in order["timeline"]):
            return order
        await asyncio.sleep(0.1)
    raise AssertionError(f"inventory did not read the stock after {key}: {order['timeline']}")


async def _calls_for(system: System, email: str) -> Counter[str]:
    before = await _calls(system)
    await _booked_and_stock_read(system, await _order(system, email))
    return await _calls(system) - before


async def test_an_order_costs_the_two_writes_and_a_new_buyer_two_more(system: System):
    # The first order of the agreement reads its products, layouts and stock once for all that
    # follow.
    await _booked_and_stock_read(system, await _order(system, "first@example.com"))

    new_buyer = await _calls_for(system, "karen@example.com")
    returning = await _calls_for(system, "karen@example.com")

    # Returning: no customer read (customers knows the link and carries the customer), no
    # lookup by reference before a first attempt, no product read (cached), and no stock read
    # (inventory takes the booked lines off its reading of a moment ago).
    assert returning == Counter({"POST /invoices/drafts": 1, "POST /invoices/booked": 1}), returning
    # New: one search and one create on top.
    assert new_buyer == Counter(
        {
            "GET /customers": 1,
            "POST /customers": 1,
            "POST /invoices/drafts": 1,
            "POST /invoices/booked": 1,
        }
    ), new_buyer


async def _lost_reply_on(system: System, path: str) -> dict:
    async with system.sandbox() as sandbox:
        fault = {"kind": "lost_reply", "path": path, "method": "POST", "times": 1}
        assert (await sandbox.post("/_sandbox/faults", json=fault)).status_code == 201
    key = await _order(system, "lost@example.com")
    order = await _booked_and_stock_read(system, key)

    ledger = await system.ledger_state()
    assert [i["references"]["other"] for i in ledger["booked_invoices"]] == [key]
    assert ledger["drafts"] == []
    assert order["invoice_number"] == ledger["booked_invoices"][0]["bookedInvoiceNumber"]
    # With its lines: e-conomic's list of booked invoices has none (a recovery reads the one it
    # found by number), and invoice.booked carried them, so the stock was read for the mug.
    invoice = (await system.apps["invoicing"].get(f"/invoices/{key}")).json()
    lines = invoice["document"]["lines"]
    assert [line["product"]["productNumber"] for line in lines] == ["MUG-BLACK"]
    [read] = [entry for entry in order["timeline"] if entry["step"] == "stock.read"]
    assert "MUG-BLACK" in read["details"]["levels"], read
    return order


@pytest.mark.parametrize("path", ["/invoices/drafts", "/invoices/booked"])
async def test_a_lost_reply_on_a_first_attempt_still_makes_one_invoice_with_its_lines(
    system: System, path: str
):
    # The sandbox runs a repeated POST again (restapi's replay of an Idempotency-Key on POST is
    # unconfirmed), and the client does not send it again: the message is retried, and the
    # retry finds what the lost reply hid by the order key.
    order = await _lost_reply_on(system, path)
    steps = [entry["step"] for entry in order["timeline"]]
    assert "retry" in steps, steps


@pytest.fixture
async def replaying_system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(
        amqp_url,
        broker_prefix,
        tmp_path,
        sandbox_settings=SandboxSettings(idempotent_post=True),
        common_overrides={"economic_post_replay": True},
    ) as running:
        yield running


@pytest.mark.parametrize("path", ["/invoices/drafts", "/invoices/booked"])
async def test_a_ledger_that_replays_a_keyed_post_saves_the_retry(
    replaying_system: System, path: str
):
    # Where a live run showed restapi replays a keyed POST (LEDGERBRIDGE_ECONOMIC_POST_REPLAY):
    # the client sends it again within the call, and the ledger answers from its record.
    order = await _lost_reply_on(replaying_system, path)
    steps = [entry["step"] for entry in order["timeline"]]
    assert "retry" not in steps, steps


async def test_a_product_deleted_after_it_was_cached_is_read_again(system: System):
    invoicing = system.apps["invoicing"]
    await system.wait_for_status(await _order(system, "karen@example.com"), "booked")
    # MUG-BLACK is cached by invoicing now. A bookkeeper deletes it in e-conomic, and the
    # connection books unknown SKUs on the default product.
    agreement = system.sandbox_app.state.registry.find(system.grant)
    del agreement.products["MUG-BLACK"]
    settings = (await invoicing.get("/connections/demo/settings")).json()
    changed = {**settings, "unknown_product": "default_product"}
    assert (await invoicing.put("/connections/demo/settings", json=changed)).is_success
    before = await _calls(system)

    key = await _order(system, "karen@example.com")
    order = await system.wait_for_status(key, "booked", timeout=30)

    # The draft from the cache was refused (the product is gone), the entry dropped, and the
    # retry read the product again: not there, so the default product, as the settings say.
    calls = await _calls(system) - before
    assert calls["POST /invoices/drafts"] == 2, calls
    assert calls["GET /products/{product_id}"] == 1, calls
    ledger = await system.ledger_state()
    [invoice] = [i for i in ledger["booked_invoices"] if i["references"]["other"] == key]
    assert [line["product"]["productNumber"] for line in invoice["lines"]] == ["WEB-DEFAULT"]
    drafted = [s for s in order["timeline"] if s["step"] == "invoice.drafted"]
    assert "booked on default product WEB-DEFAULT" in str(drafted[-1]["details"]["notes"])


async def test_a_product_deleted_after_it_was_cached_fails_in_a_bookkeepers_words(
    system: System,
):
    await system.wait_for_status(await _order(system, "karen@example.com"), "booked")
    agreement = system.sandbox_app.state.registry.find(system.grant)
    del agreement.products["MUG-BLACK"]

    key = await _order(system, "karen@example.com")
    order = await system.wait_for_status(key, "failed", timeout=30)

    # Not e-conomic's refusal of the cached product: what a fresh read says.
    assert (
        "SKU 'MUG-BLACK' (order line 'Mug') is not a product in e-conomic"
        in (order["status_reason"])
    )


async def test_a_replay_resumes_from_the_draft_it_recorded_without_searching(system: System):
    # A drafts-only connection leaves the draft (step drafted); then it is switched to booking
    # and the order replayed.
    invoicing = system.apps["invoicing"]
    settings = (await invoicing.get("/connections/demo/settings")).json()
    answer = await invoicing.put("/connections/demo/settings", json={**settings, "book": False})
    assert answer.status_code == 200, answer.text
    key = await _order(system, "drafts@example.com")
    for _ in range(300):
        steps = [e["step"] for e in (await system.order(key))["timeline"]]
        if "invoice.left_as_draft" in steps:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"{key} was not left as a draft: {steps}")
    assert len((await system.ledger_state())["drafts"]) == 1
    answer = await invoicing.put("/connections/demo/settings", json={**settings, "book": True})
    assert answer.status_code == 200, answer.text

    before = await _calls(system)
    assert (await system.apps["ingest"].post(f"/orders/{key}/replay")).status_code == 202
    await system.wait_for_status(key, "booked", timeout=30)
    calls = await _calls(system) - before
    # The recorded draft, read by its number, is still there, so it is not booked: it is booked
    # without a search by reference for a booked invoice or a draft, and nothing is drafted again.
    invoicing_calls = {c: n for c, n in calls.items() if "/invoices/" in c}
    assert invoicing_calls == {"GET /invoices/drafts/{number}": 1, "POST /invoices/booked": 1}, (
        calls
    )
    ledger = await system.ledger_state()
    assert ledger["drafts"] == [] and len(ledger["booked_invoices"]) == 1


async def _figures(system: System, number: str) -> tuple[Decimal, Decimal]:
    """The product's available units: inventory's figure and the ledger's own."""
    rows = (await system.apps["inventory"].get("/stock", params={"connection": "demo"})).json()
    ours = next(Decimal(row["available"]) for row in rows if row["product_number"] == number)
    ledger = await system.ledger_state()
    [product] = [p for p in ledger["products"] if p["productNumber"] == number]
    return ours, Decimal(str(product["inventory"]["available"]))


async def test_invoices_booked_while_inventory_is_busy_share_one_stock_read(
    amqp_url, broker_prefix, tmp_path, store
):
    """inventory follows the invoices waiting for it in batches: where it reads the stock after
    each booking (a bound of 0), one read for all of them; every order still gets its own
    timeline entry and releases the units it held."""
    async with running_system(
        amqp_url,
        broker_prefix,
        tmp_path,
        store=store,
        inventory_overrides={"stock_read_seconds": 0},
    ) as system:
        await _booked_and_stock_read(system, await _order(system, "first@example.com"))
        await system.stop("inventory")  # its queue stays: the invoices booked now wait there
        keys = [await _order(system, f"buyer{n}@example.com") for n in range(8)]
        for key in keys:
            await system.wait_for_status(key, "booked", timeout=60)
        before = await _calls(system)
        await system.start("inventory")
        for key in keys:
            await _booked_and_stock_read(system, key)
        reads = (await _calls(system) - before)["GET /products"]
        assert 1 <= reads < len(keys), reads
        held = await system.apps["inventory"].get("/held", params={"connection": "demo"})
        assert held.status_code == 200, held.text
        assert held.json()["per_sku"] == {}
        ours, ledgers = await _figures(system, "MUG-BLACK")
        assert ours == ledgers


async def test_invoices_that_waited_for_inventory_are_taken_off_its_reading_once(
    amqp_url, broker_prefix, tmp_path, store
):
    """The same backlog with the default bound: no stock read at all, and inventory's figure is
    the ledger's own (each invoice's units taken off once, none counted twice)."""
    async with running_system(amqp_url, broker_prefix, tmp_path, store=store) as system:
        await _booked_and_stock_read(system, await _order(system, "first@example.com"))
        await system.stop("inventory")
        keys = [await _order(system, f"buyer{n}@example.com") for n in range(8)]
        for key in keys:
            await system.wait_for_status(key, "booked", timeout=60)
        before = await _calls(system)
        await system.start("inventory")
        for key in keys:
            await _booked_and_stock_read(system, key)
        assert (await _calls(system) - before)["GET /products"] == 0
        ours, ledgers = await _figures(system, "MUG-BLACK")
        assert ours == ledgers
