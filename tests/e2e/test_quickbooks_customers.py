"""The customers service with a connection whose ledger is QuickBooks Online, against real
RabbitMQ and the sandbox's QuickBooks: the buyer's customer is created once (a second order
finds it; a create whose reply was lost still makes one), and seed 001's customer settings
(standard customer, DisplayName clash, a bad value named) reach the adapter from the
connection's customer settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lb_common.sealing import SecretBox
from tests.e2e.test_quickbooks_connect import (
    PUBLIC,
    _browser,
    _consent_at_intuit,
    _consent_url,
    _customers_copy,
)
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.system import System, running_system

SHOP = "west-shop.myshopify.com"


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path, tokens_url) -> AsyncIterator[System]:
    async with running_system(
        amqp_url,
        broker_prefix,
        tmp_path,
        "ingest",
        "customers",
        ingest_overrides={"public_url": PUBLIC},
    ) as running:
        put = await running.apps["ingest"].put(
            "/connections/west",
            json={
                "platform": "shopify",
                "secrets": ["west-secret"],
                "settings": {"shop_domain": SHOP},
            },
        )
        assert put.status_code == 200, put.text
        yield running


@pytest.fixture
async def realm(system: System) -> str:
    """West's ledger becomes a QuickBooks company (Intuit's consent, as a bookkeeper does it)."""
    back = await _consent_at_intuit(system, await _consent_url(system))
    async with _browser(system) as browser:
        landed = await browser.get(back)
    assert landed.status_code == 200, landed.text
    copy = await _customers_copy(system, SecretBox.from_settings(system.common))
    return str(copy["credentials"]["realm_id"])


async def _rows(system: System, realm: str, entity: str) -> list[dict[str, Any]]:
    async with system.sandbox() as sandbox:
        reply = await sandbox.get(f"/_sandbox/quickbooks/companies/{realm}/state")
    assert reply.status_code == 200, reply.text
    rows: list[dict[str, Any]] = reply.json()["entities"].get(entity, [])
    return rows


async def _seed(system: System, realm: str, entity: str, rows: list[dict[str, Any]]) -> list[str]:
    async with system.sandbox() as sandbox:
        reply = await sandbox.post(f"/_sandbox/quickbooks/companies/{realm}/{entity}", json=rows)
    assert reply.status_code == 201, reply.text
    created: list[str] = reply.json()["created"]
    return created


async def _settings(system: System, **settings: Any) -> Any:
    return await system.apps["customers"].put("/connections/west/settings", json=settings)


async def _resolved(system: System, **order: Any) -> dict[str, Any]:
    """Post a paid order to west; its customer.resolved (or failed) step once there."""
    body = shopify_json(shopify_order(lines=[{"sku": "MUG-BLACK", "title": "Mug"}], **order))
    answer = await system.post_shopify(
        "orders/paid",
        body,
        secret="west-secret",
        connection="west",
        **{"X-Shopify-Shop-Domain": SHOP},
    )
    assert answer.status_code == 200, answer.text
    key = answer.json()["order_key"]
    for _ in range(300):
        shown = await system.order(key)
        steps = {e["step"]: e for e in shown["timeline"]}
        if "customer.resolved" in steps:
            return steps["customer.resolved"]
        if shown["status"] == "failed":
            return {"step": "failed", "message": shown["status_reason"], "details": {}}
        await asyncio.sleep(0.1)
    raise AssertionError(f"order {key} never resolved its customer: {shown}")


async def test_a_buyer_becomes_one_quickbooks_customer_even_when_the_create_reply_is_lost(
    system: System, realm: str
):
    # The create runs in QuickBooks, then its answer is lost (500): the client repeats the
    # POST with the same requestid, and the order still gets the one customer.
    async with system.sandbox() as sandbox:
        fault = await sandbox.post(
            "/_sandbox/quickbooks/faults",
            json={
                "agreement": realm,
                "kind": "lost_reply",
                "path": "/customer",
                "method": "POST",
                "times": 1,
            },
        )
    assert fault.status_code in (200, 201), fault.text

    first = await _resolved(system, email="ann@example.com")
    assert first["step"] == "customer.resolved", first
    [customer] = await _rows(system, realm, "Customer")
    assert customer["PrimaryEmailAddr"]["Address"] == "ann@example.com"
    assert first["details"] == {"customer_number": int(customer["Id"]), "how": "created"}
    assert f"Created QuickBooks Online customer {customer['Id']}" in first["message"]

    async with system.sandbox() as sandbox:
        calls = (await sandbox.get(f"/_sandbox/quickbooks/companies/{realm}/calls")).json()
    assert calls["calls"]["POST /customer"] == 2  # the lost reply, then the repeat
    assert calls["calls"]["GET /query"] == 1  # the one e-mail search before the create

    second = await _resolved(system, email="ann@example.com")
    assert second["details"]["customer_number"] == int(customer["Id"])
    assert second["details"]["how"] == "linked"
    assert len(await _rows(system, realm, "Customer")) == 1  # found, not created again

    links = (await system.apps["customers"].get("/links", params={"connection": "west"})).json()
    assert [(lk["match_key"], lk["customer_number"]) for lk in links] == [
        ("email:ann@example.com", int(customer["Id"]))
    ]


async def test_seed_001_rules_reach_quickbooks_from_the_customer_settings(
    system: System, realm: str
):
    # A bad value is refused by name, and nothing changes.
    bad = await _settings(system, quickbooks={"when_not_found": "standard_customer"})
    assert bad.status_code == 422, bad.text
    assert "quickbooks.standard_customer_id" in bad.text
    bad = await _settings(system, quickbooks={"name_format": "initials"})
    assert bad.status_code == 422 and "name_format" in bad.text, bad.text

    # The DisplayName clash rule: another customer is already called "Karen Jensen".
    [other] = await _seed(
        system,
        realm,
        "Customer",
        [{"DisplayName": "Karen Jensen", "PrimaryEmailAddr": {"Address": "k@elsewhere.com"}}],
    )
    ok = await _settings(system, quickbooks={"name_format": "last_first"})
    assert ok.status_code == 200, ok.text
    made = await _resolved(system, email="karen@example.com")
    assert made["details"]["how"] == "created", made
    [new] = [c for c in await _rows(system, realm, "Customer") if c["Id"] != other]
    assert new["DisplayName"] == "Jensen, Karen"  # name_format reached the adapter
    assert new["PrimaryEmailAddr"]["Address"] == "karen@example.com"

    clash = await _settings(system)  # first_last: "Karen Jensen", which is taken
    assert clash.status_code == 200
    again = await _resolved(system, email="karen.two@example.com")
    names = {c["DisplayName"] for c in await _rows(system, realm, "Customer")}
    assert "Karen Jensen (karen.two@example.com)" in names, (again, names)

    # when_not_found=standard_customer: an unknown buyer is booked on the standard customer,
    # nothing is created and no link is stored (the buyer is not that customer).
    [standard] = await _seed(system, realm, "Customer", [{"DisplayName": "Webshop Sales"}])
    before = len(await _rows(system, realm, "Customer"))
    ok = await _settings(
        system,
        quickbooks={"when_not_found": "standard_customer", "standard_customer_id": standard},
    )
    assert ok.status_code == 200, ok.text
    booked = await _resolved(system, email="walkin@example.com")
    assert booked["details"] == {"customer_number": int(standard), "how": "default"}
    assert "standard customer" in booked["message"]
    assert len(await _rows(system, realm, "Customer")) == before
    links = (await system.apps["customers"].get("/links", params={"connection": "west"})).json()
    assert "email:walkin@example.com" not in {lk["match_key"] for lk in links}

    # A standard customer that does not exist: the order fails with the setting named.
    ok = await _settings(
        system,
        quickbooks={"when_not_found": "standard_customer", "standard_customer_id": "99999"},
    )
    assert ok.status_code == 200, ok.text
    failed = await _resolved(system, email="walkin2@example.com")
    assert failed["step"] == "failed"
    assert "standard customer" in failed["message"] and "99999" in failed["message"]


async def test_a_known_buyers_shipping_address_follows_the_quickbooks_rule(
    system: System, realm: str
):
    home = {
        "address1": "1 Main St",
        "zip": "10001",
        "city": "New York",
        "country": "United States",
        "country_code": "US",
        "name": "Ann Lee",
    }
    first = await _resolved(system, email="ann@example.com", shipping_address=home)
    assert first["details"]["how"] == "created", first
    [customer] = await _rows(system, realm, "Customer")
    assert customer["ShipAddr"]["Line1"] == "1 Main St"

    moved = {**home, "address1": "9 Dock Rd", "zip": "10002"}
    kept = await _resolved(system, email="ann@example.com", shipping_address=moved)
    assert kept["details"]["how"] == "linked"
    [customer] = await _rows(system, realm, "Customer")
    assert customer["ShipAddr"]["Line1"] == "1 Main St"  # update_addresses: none (default)

    ok = await _settings(system, quickbooks={"update_addresses": "shipping"})
    assert ok.status_code == 200, ok.text
    updated = await _resolved(system, email="ann@example.com", shipping_address=moved)
    assert "shipping address" in updated["message"], updated
    [customer] = await _rows(system, realm, "Customer")
    assert customer["ShipAddr"]["Line1"] == "9 Dock Rd"
    assert customer["ShipAddr"]["PostalCode"] == "10002"
    again = await _resolved(system, email="ann@example.com", shipping_address=moved)
    assert "shipping address" not in again["message"]  # the same address: nothing written
    assert (await _rows(system, realm, "Customer"))[0]["SyncToken"] == customer["SyncToken"]
