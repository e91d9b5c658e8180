"""Stock sync end to end: the inventory service on the real RabbitMQ with its SQLite file, the
ledger and the shop emulated by the sandbox (in-process)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from lb_common.envelope import Envelope
from lb_common.events import ShopStockReported
from lb_sandbox.settings import SandboxSettings
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.system import System, running_system


@pytest.fixture
async def inventory(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path, "inventory") as running:
        yield running


async def shop_state(system: System) -> dict[str, Any]:
    async with system.sandbox() as sandbox:
        response = await sandbox.get(f"/_sandbox/shopify/{system.shop_token}/state")
        response.raise_for_status()
        return response.json()


async def shop_levels(system: System) -> dict[str, int | None]:
    """SKU → available at the shop's (only) location."""
    state = await shop_state(system)
    items = {v["inventory_item_id"]: v["sku"] for p in state["products"] for v in p["variants"]}
    return {items[lv["inventory_item_id"]]: lv["available"] for lv in state["inventory_levels"]}


async def item_of(system: System, sku: str) -> int:
    state = await shop_state(system)
    [item] = [
        v["inventory_item_id"] for p in state["products"] for v in p["variants"] if v["sku"] == sku
    ]
    return item


async def enable_sync(system: System, **overrides: Any) -> str:
    state = await shop_state(system)
    location = str(state["locations"][0]["id"])
    body = {"enabled": True, "location_id": location, **overrides}
    response = await system.apps["inventory"].put("/connections/demo/settings", json=body)
    assert response.status_code == 200, response.text
    return location


async def seed_shop(system: System, products: list[dict[str, Any]]) -> None:
    async with system.sandbox() as sandbox:
        response = await sandbox.post(
            f"/_sandbox/shopify/{system.shop_token}/products", json=products
        )
        assert response.status_code == 201, response.text


async def ensure_agreement(system: System) -> None:
    """Touch the agreement through the API so it exists with its seed."""
    async with system.sandbox() as sandbox:
        await sandbox.get(
            "/economic/products",
            headers={"X-AppSecretToken": "test-app", "X-AgreementGrantToken": system.grant},
        )


async def seed_ledger(system: System, products: list[dict[str, Any]]) -> None:
    await ensure_agreement(system)
    async with system.sandbox() as sandbox:
        response = await sandbox.post(
            f"/_sandbox/agreements/{system.grant}/products", json=products
        )
        assert response.status_code == 201, response.text


async def receive(system: System, number: str, quantity: int) -> None:
    await ensure_agreement(system)
    async with system.sandbox() as sandbox:
        response = await sandbox.post(
            f"/_sandbox/agreements/{system.grant}/products/{number}/receive",
            json={"quantity": quantity},
        )
        assert response.status_code == 200, response.text


async def sync(system: System) -> dict[str, Any]:
    response = await system.apps["inventory"].post("/sync", params={"connection": "demo"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "ok", result
    return result


async def mismatches(system: System) -> dict[str, Any]:
    response = await system.apps["inventory"].get("/mismatches", params={"connection": "demo"})
    assert response.status_code == 200
    return response.json()


async def test_settings_are_off_by_default_and_validated(inventory: System):
    app = inventory.apps["inventory"]
    settings = (await app.get("/connections/demo/settings")).json()
    assert settings == {
        "enabled": False,
        "location_id": None,
        "full_sync_interval_minutes": 15,
        "products_without_sku": "report",
        "ledger_always_wins": False,
    }
    refused = await app.put("/connections/demo/settings", json={"enabled": True})
    assert refused.status_code == 422 and "location_id" in refused.text
    unknown = await app.put("/connections/demo/settings", json={"colour": "red"})
    assert unknown.status_code == 422
    off = await app.post("/sync", params={"connection": "demo"})
    assert off.status_code == 409


async def test_a_wrong_location_fails_the_sync_with_a_reason(inventory: System):
    await inventory.apps["inventory"].put(
        "/connections/demo/settings", json={"enabled": True, "location_id": "999"}
    )
    result = (await inventory.apps["inventory"].post("/sync")).json()
    assert result["status"] == "failed"
    assert "location 999 does not exist" in result["error"]
    [run] = (await inventory.apps["inventory"].get("/sync/runs")).json()
    assert run["status"] == "failed"


async def test_catalogue_scan_links_skus_and_reports_each_mismatch_kind(inventory: System):
    await seed_ledger(
        inventory,
        [
            {"number": "LEDGER-ONLY", "name": "Only in the ledger", "stock": 4},
            {"number": "DUP-1", "name": "Duplicated in the shop", "stock": 2},
            {"number": "SERVICE-FEE", "name": "No stock kept", "stock": None},
        ],
    )
    await seed_shop(
        inventory,
        [
            {"title": "Shop only", "variants": [{"sku": "SHOP-ONLY", "available": 1}]},
            {"title": "Dup A", "variants": [{"sku": "DUP-1"}]},
            {"title": "Dup B", "variants": [{"sku": "DUP-1"}]},
            {"title": "Gift card", "variants": [{"sku": None, "title": "50 kr"}]},
        ],
    )
    await enable_sync(inventory)
    first = await sync(inventory)
    # TSHIRT-RED-M and MUG-BLACK are in both at the same level: linked, nothing to push.
    assert (first["changed"], first["unchanged"], first["failed"]) == (0, 2, 0)
    links = (await inventory.apps["inventory"].get("/links")).json()
    assert [(lk["sku"], lk["product_number"]) for lk in links] == [
        ("MUG-BLACK", "MUG-BLACK"),
        ("TSHIRT-RED-M", "TSHIRT-RED-M"),
    ]
    assert all(lk["inventory_item_id"] for lk in links)

    report = await mismatches(inventory)
    kinds = {(m["kind"], m["key"]) for m in report["items"]}
    assert ("shop_only", "SHOP-ONLY") in kinds
    assert ("ledger_only", "LEDGER-ONLY") in kinds
    assert ("duplicate_sku", "DUP-1") in kinds
    assert sum(1 for k, _ in kinds if k == "no_sku") == 1
    assert not any(key == "SERVICE-FEE" for _, key in kinds)
    assert first["mismatches"] == len(report["items"])

    # The shop changes a level by itself: reported, not overwritten.
    async with inventory.sandbox() as sandbox:
        await sandbox.post(
            f"/_sandbox/shopify/{inventory.shop_token}/levels",
            json={"inventory_item_id": await item_of(inventory, "MUG-BLACK"), "available": 17},
        )
    second = await sync(inventory)
    assert second["changed"] == 0
    [differs] = (
        await inventory.apps["inventory"].get("/mismatches", params={"kind": "level_differs"})
    ).json()["items"]
    assert (differs["key"], differs["ledger_level"], differs["shop_level"]) == ("MUG-BLACK", 20, 17)
    assert (await shop_levels(inventory))["MUG-BLACK"] == 17

    # Without SKU ignored by setting: no longer reported.
    await enable_sync(inventory, products_without_sku="ignore")
    await sync(inventory)
    assert "no_sku" not in (await mismatches(inventory))["counts"]


async def test_a_goods_receipt_in_the_ledger_reaches_the_shop(inventory: System):
    await enable_sync(inventory)
    await sync(inventory)
    await receive(inventory, "TSHIRT-RED-M", 10)
    result = await sync(inventory)
    assert (result["changed"], result["unchanged"], result["failed"]) == (1, 1, 0)
    assert (await shop_levels(inventory))["TSHIRT-RED-M"] == 60
    # Nothing moved since: the next sync sets nothing.
    again = await sync(inventory)
    assert again["changed"] == 0
    # locations, one bulk read (start and a few polls), whatever the catalogue's size
    assert again["shop_calls"] <= 8
    stock = {
        r["product_number"]: r["available"]
        for r in (await inventory.apps["inventory"].get("/stock")).json()
    }
    assert Decimal(stock["TSHIRT-RED-M"]) == 60


# Shopify Plus's restore rate (1,000 points/s) with a small bucket: throttling comes quickly and
# is waited out in well under a second.
SMALL_BUCKET = SandboxSettings(
    shopify_plan="plus", shopify_points_bucket=600, shopify_bulk_delay_seconds=0.05
)


@pytest.fixture
async def small_bucket(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(
        amqp_url,
        broker_prefix,
        tmp_path,
        "inventory",
        sandbox_settings=SMALL_BUCKET,
        common_overrides={"shopify_plan": "plus"},
    ) as system:
        yield system


async def test_throttled_answers_are_waited_out_and_the_sync_completes(small_bucket: System):
    await enable_sync(small_bucket)
    await receive(small_bucket, "MUG-BLACK", 5)
    async with small_bucket.sandbox() as sandbox:
        await sandbox.post(
            f"/_sandbox/shopify/{small_bucket.shop_token}/faults",
            json={"kind": "throttled", "times": 3},
        )
    result = await sync(small_bucket)
    assert (result["changed"], result["failed"]) == (1, 0)
    assert (await shop_levels(small_bucket))["MUG-BLACK"] == 25
    assert result["shop_calls"] >= 3 + 3  # the three THROTTLED were waited out and sent again


async def test_a_small_bucket_is_paced_and_the_sync_completes(small_bucket: System):
    await seed_shop(
        small_bucket,
        [
            {"title": f"P{i}", "variants": [{"sku": f"S{i:03d}", "available": 0}]}
            for i in range(120)
        ],
    )
    await seed_ledger(
        small_bucket, [{"number": f"S{i:03d}", "name": f"P{i}", "stock": i} for i in range(120)]
    )
    await enable_sync(small_bucket)
    result = await sync(small_bucket)
    assert (result["changed"], result["failed"]) == (119, 0)  # S000 is already 0
    levels = await shop_levels(small_bucket)
    assert levels["S119"] == 119


async def publish_shop_report(
    system: System, item: int, location: str, available: int, at: datetime
) -> None:
    event = ShopStockReported(
        inventory_item_id=str(item), location_id=location, available=available, updated_at=at
    )
    envelope = Envelope.wrap(event, connection="demo", order_key=None, correlation_id="stock")
    await system.runtimes["inventory"].parts.broker.publish_envelope(envelope)


async def eventually(check, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


async def test_a_shop_report_that_differs_is_reported_not_overwritten(inventory: System):
    location = await enable_sync(inventory)
    await sync(inventory)
    item = await item_of(inventory, "MUG-BLACK")
    now = datetime.now(UTC)
    await publish_shop_report(inventory, item, location, 12, now)

    async def reported():
        items = (await mismatches(inventory))["items"]
        return [m for m in items if m["kind"] == "level_differs"]

    [differs] = await eventually(reported)
    assert (differs["key"], differs["ledger_level"], differs["shop_level"]) == ("MUG-BLACK", 20, 12)

    # An older report arriving late changes nothing; a report that agrees clears the difference.
    await publish_shop_report(inventory, item, location, 3, now - timedelta(minutes=1))
    await publish_shop_report(inventory, item, location, 20, now + timedelta(seconds=1))

    async def cleared():
        return not await reported()

    assert await eventually(cleared)
    [link] = (await inventory.apps["inventory"].get("/links", params={"sku": "MUG-BLACK"})).json()
    assert link["shop_level"] == 20


async def test_with_ledger_always_wins_a_shop_change_is_overwritten(inventory: System):
    location = await enable_sync(inventory, ledger_always_wins=True)
    await sync(inventory)
    item = await item_of(inventory, "MUG-BLACK")
    async with inventory.sandbox() as sandbox:
        await sandbox.post(
            f"/_sandbox/shopify/{inventory.shop_token}/levels",
            json={"inventory_item_id": item, "available": 2},
        )
    await publish_shop_report(inventory, item, location, 2, datetime.now(UTC))

    async def restored():
        return (await shop_levels(inventory))["MUG-BLACK"] == 20

    assert await eventually(restored)
    assert "level_differs" not in (await mismatches(inventory))["counts"]


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


async def test_a_sale_reaches_the_shop_after_booking(system: System):
    await enable_sync(system)
    await sync(system)
    body = shopify_json(
        shopify_order(lines=[{"sku": "TSHIRT-RED-M", "title": "T-shirt", "quantity": 3}])
    )
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    await system.wait_for_status(key, "booked")

    async def followed():
        return (await shop_levels(system))["TSHIRT-RED-M"] == 47

    assert await eventually(followed, timeout=10)

    async def stock_step():
        order = await system.order(key)
        return [e for e in order["timeline"] if e["step"] == "stock.read"]

    [entry] = await eventually(stock_step)
    assert "TSHIRT-RED-M → 47" in entry["message"]
    assert json.dumps(entry["details"]["pushed"]) == '{"TSHIRT-RED-M": 47}'


@pytest.fixture
async def slow_bulk(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    settings = SandboxSettings(shopify_bulk_delay_seconds=1.5)  # the shop's bulk read is slow
    async with running_system(
        amqp_url, broker_prefix, tmp_path, "inventory", sandbox_settings=settings
    ) as running:
        yield running


async def test_a_sync_started_without_waiting_shows_its_progress(slow_bulk: System):
    await enable_sync(slow_bulk)
    app = slow_bulk.apps["inventory"]
    started = await app.post("/sync", params={"connection": "demo", "wait": "false"})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]

    async def run() -> dict[str, Any]:
        runs = (await app.get("/sync/runs", params={"connection": "demo"})).json()
        [found] = [r for r in runs if r["id"] == run_id]
        return dict(found)

    # While the shop's catalogue is read, the run says so; a second start is refused.
    async def reading() -> bool:
        now = await run()
        return now["status"] == "running" and "shop's stock" in (now["phase"] or "")

    assert await eventually(reading)
    again = await app.post("/sync", params={"connection": "demo", "wait": "false"})
    assert again.status_code == 409 and "already running" in again.text

    async def finished() -> dict[str, Any] | None:
        now = await run()
        return now if now["status"] != "running" else None

    done = await eventually(finished, timeout=30)
    assert done is not None and (done["status"], done["phase"]) == ("ok", "done")
    assert done["changed"] + done["unchanged"] == 2  # both linked products looked at
