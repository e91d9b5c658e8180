"""The customers and stock pages in a real (headless) browser over the real services: a buyer's
link to the ledger customer, a duplicate group with its evidence merged after a confirmation,
the customer's purchase history; a stock sync followed live to its end, and a stock difference
resolved from the page."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.console.browser import browser_page, screenshot
from tests.console.conftest import ConsoleStack
from tests.inventory.test_held_units import differences, set_shop_level
from tests.inventory.test_stock_sync import (
    enable_sync,
    item_of,
    publish_shop_report,
    shop_levels,
)
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.system import ADMIN_TOKEN, System

pytestmark = pytest.mark.slow


async def _log_in(page: Any, base: str) -> None:
    await page.goto(base + "/login")
    await page.fill("input[name=operator]", "Bea")
    await page.fill("input[name=token]", ADMIN_TOKEN)
    await page.click("button[type=submit]")


async def _book(system: System, email: str) -> dict[str, Any]:
    lines = [{"sku": "MUG-BLACK", "title": "Mug", "price": "60.00"}]
    body = shopify_json(shopify_order(lines=lines, email=email))
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    return await system.wait_for_status(key, "booked")


async def test_operator_merges_duplicate_customers_after_a_confirmation(
    console_stack: ConsoleStack,
) -> None:
    system, base = console_stack.system, console_stack.url
    # Two ledger customers for one buyer; the first order links the buyer to 9011.
    async with system.sandbox() as sandbox:
        seeded = await sandbox.post(
            f"/_sandbox/agreements/{system.grant}/customers",
            json=[
                {"customerNumber": 9011, "name": "Anna Hansen", "email": "anna@example.dk"},
                {"customerNumber": 9012, "name": "Anna H.", "email": "ANNA@Example.DK"},
            ],
        )
        assert seeded.status_code == 201, seeded.text
    booked = await _book(system, "anna@example.dk")
    assert booked["customer_number"] == 9011

    async with browser_page() as page:
        await _log_in(page, base)
        # The buyer and the ledger customer it is invoiced to.
        await page.goto(base + "/customers?q=anna")
        row = page.locator("table.links tbody tr", has_text="email:anna@example.dk")
        assert "9011" in await row.inner_text()

        # Duplicates come from the ledger's customers, read on demand (nothing changes there).
        await page.goto(base + "/customers/duplicates")
        assert "No duplicate groups" in await page.inner_text("main")
        await page.click("button:has-text('Read the customers from the ledger again')")
        assert "customers read from the ledger" in await page.inner_text(".notice")
        group = page.locator("section.group")
        assert await group.count() == 1
        text = await group.inner_text()
        assert "anna@example.dk" in text  # the evidence: the e-mail both carry
        assert "Anna Hansen" in text and "Anna H." in text
        await screenshot(page, "customers-duplicates")

        # Keep 9012: a confirmation page says what will happen before anything does.
        await group.locator("input[name=survivor][value='9012']").check()
        await group.locator("button:has-text('Merge')").click()
        confirm = await page.inner_text("main")
        assert "1 linked buyer(s) will be invoiced to 9012" in confirm
        assert "cannot undo a merge" in confirm
        merges = (await system.apps["customers"].get("/connections/demo/merges")).json()
        assert merges["merges"] == []  # only confirmed merges happen
        await screenshot(page, "customers-merge-confirm")
        await page.fill("input[name=reason]", "same person, two sign-ups")
        await page.click("button:has-text('Yes, merge into 9012')")
        assert "Merged." in await page.inner_text(".notice")
        merges = (await system.apps["customers"].get("/connections/demo/merges")).json()
        assert merges["merges"] == [{"merged": 9011, "survivor": 9012}]
        assert (
            "9012"
            in await page.locator("section.group tbody tr", has_text="Anna Hansen").inner_text()
        )

        # The buyer now leads to 9012; 9011 keeps its purchase history and says where it went.
        await page.goto(base + "/customers?q=anna")
        row = page.locator("table.links tbody tr", has_text="email:anna@example.dk")
        assert "9012" in await row.inner_text() and "was 9011" in await row.inner_text()
        await page.click("table.links a:has-text('9012')")
        assert "email:anna@example.dk" in await page.inner_text("table.buyers")
        await page.goto(base + "/customers/demo/9011")
        main = await page.inner_text("main")
        assert "Merged into customer 9012" in main
        history = await page.inner_text("table.history")
        assert str(booked["invoice_number"]) in history and "60.00" in history
        await screenshot(page, "customer-history")

        await page.goto(base + "/audit")
        audit = await page.inner_text("main")
        assert "customers.merge" in audit and "same person, two sign-ups" in audit


async def _until(check: Any, timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def test_operator_syncs_stock_and_resolves_a_difference(console_stack: ConsoleStack) -> None:
    system, base = console_stack.system, console_stack.url
    location = await enable_sync(system)

    async with browser_page() as page:
        await _log_in(page, base)
        # Sync now: the run's own page follows it (reloading itself while it runs) to its end.
        await page.goto(base + "/stock")
        await page.click("button:has-text('Sync demo now')")
        assert "/stock/runs/" in page.url
        status = page.locator("dd.run-status")

        async def finished() -> bool:
            return await status.inner_text() != "running"

        assert await _until(finished), "the run page did not show the end of the sync"
        assert await status.inner_text() == "ok"
        assert "done" in await page.inner_text("dl.run")
        await screenshot(page, "stock-sync-run")
        # The overview shows it as the connection's last stock sync, with what it did.
        await page.goto(base + "/")
        last = await page.inner_text("#last-runs tbody tr:has-text('demo')")
        assert "ok" in last and "changed" in last and "never" not in last.split("\t")[-1]

        # The shop counts 12 mugs where the ledger has 20 free: a difference, shown with both.
        await set_shop_level(system, "MUG-BLACK", 12)
        item = await item_of(system, "MUG-BLACK")
        await publish_shop_report(system, item, location, 12, datetime.now(UTC))
        assert await _until(lambda: differences(system))
        await page.goto(base + "/stock?kind=level_differs")
        row = page.locator("tbody tr", has_text="MUG-BLACK")
        cells = await row.inner_text()
        assert "20" in cells and "12" in cells
        await screenshot(page, "stock-difference")

        # Keeping the shop's figure needs the ledger corrected first: refused, in its words.
        await row.locator("button:has-text('Keep shop')").click()
        notice = await page.inner_text(".notice")
        assert "not resolved" in notice and "20 free" in notice
        assert len(await differences(system)) == 1
        # Keeping the ledger's sets the shop to it and closes the difference.
        await (
            page.locator("tbody tr", has_text="MUG-BLACK")
            .locator("button:has-text('Keep ledger')")
            .click()
        )
        assert "kept the ledger's figure; the shop shows 20" in await page.inner_text(".notice")
        assert (await shop_levels(system))["MUG-BLACK"] == 20
        assert await differences(system) == []
        assert "No mismatches." in await page.inner_text("main")

        await page.goto(base + "/audit")
        audit = await page.inner_text("main")
        assert "stock.resolve" in audit and "stock.sync" in audit
