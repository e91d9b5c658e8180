"""The customers service against real RabbitMQ and the sandbox: matching keys, business buyers,
default customers, field updates, and two consumers racing on one new buyer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from lb_common.runtime import ServiceRuntime
from lb_customers.bootstrap import bootstrap as customers_bootstrap
from lb_customers.settings import CustomersSettings
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.system import System, running_system


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


async def _settings(system: System, **changes) -> None:
    customers = system.apps["customers"]
    current = (await customers.get("/connections/demo/settings")).json()
    answer = await customers.put("/connections/demo/settings", json={**current, **changes})
    assert answer.status_code == 200, answer.text


async def _book(system: System, **order) -> dict:
    body = shopify_json(shopify_order(lines=[{"sku": "MUG-BLACK", "title": "Mug"}], **order))
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    return await system.wait_for_status(key, "booked", "failed")


async def test_two_consumers_and_one_new_buyer_make_one_ledger_customer(system: System):
    # A second replica of customers on the same database and queue.
    replica = ServiceRuntime(
        customers_bootstrap(
            CustomersSettings(
                common=system.common,
                database_url=await system.store.url("customers") if system.store else None,
            ),
            ledger_transport=system.ledger_transport,
        )
    )
    await replica.start()
    try:
        bodies = [
            shopify_json(shopify_order(lines=[{"sku": "MUG-BLACK"}], email="twins@example.com"))
            for _ in range(4)
        ]
        answers = await asyncio.gather(*(system.post_shopify("orders/paid", b) for b in bodies))
        orders = [
            await system.wait_for_status(a.json()["order_key"], "booked", timeout=30)
            for a in answers
        ]
    finally:
        await replica.stop()
    ledger = await system.ledger_state()
    assert len(ledger["customers"]) == 1
    assert {o["customer_number"] for o in orders} == {ledger["customers"][0]["customerNumber"]}
    assert len(ledger["booked_invoices"]) == 4


async def test_business_buyer_is_matched_on_cvr_across_emails(system: System):
    await _settings(system, per_customer_type=True)
    first = await _book(
        system, email="ole@tojogco.dk", company="Tøj & Co ApS", note_attributes={"CVR": "12345674"}
    )
    second = await _book(
        system,
        email="bogholderi@tojogco.dk",
        company="Tøj & Co ApS",
        note_attributes={"CVR": "12345674"},
    )
    assert first["status"] == second["status"] == "booked"
    assert first["customer_number"] == second["customer_number"]
    [customer] = (await system.ledger_state())["customers"]
    assert customer["name"] == "Tøj & Co ApS"
    assert customer["corporateIdentificationNumber"] == "12345674"


async def test_invalid_cvr_stops_the_order_with_a_reason(system: System):
    await _settings(system, per_customer_type=True)
    order = await _book(
        system, email="x@firma.dk", company="Firma", note_attributes={"CVR": "12345678"}
    )
    assert order["status"] == "failed"
    assert "12345678" in order["status_reason"] and "CVR" in order["status_reason"]


async def test_guest_without_email_goes_to_the_default_customer(system: System):
    failed = await _book(system, email=None, customer=None)
    assert failed["status"] == "failed"
    assert "default customer" in failed["status_reason"]

    # Create the shared "webshop customers" debtor through a normal order, then point at it.
    shared = await _book(system, email="webshop@example.com")
    await _settings(system, default_customer_number=shared["customer_number"])
    booked = await _book(system, email=None, customer=None)
    assert booked["status"] == "booked"
    assert booked["customer_number"] == shared["customer_number"]
    steps = {e["step"]: e["message"] for e in booked["timeline"]}
    assert "default customer" in steps["customer.resolved"]
    assert len((await system.ledger_state())["customers"]) == 1  # the guest made none


async def test_allowed_fields_are_updated_on_a_returning_customer(system: System):
    await _settings(system, update_fields=["phone"])
    first = await _book(system, email="moves@example.com", phone="+4511111111")
    second = await _book(system, email="moves@example.com", phone="+4522222222")
    assert first["customer_number"] == second["customer_number"]
    [customer] = (await system.ledger_state())["customers"]
    assert "22222222" in customer["telephoneAndFaxNumber"]
    resolved = [e for e in second["timeline"] if e["step"] == "customer.resolved"]
    assert "Updated" in resolved[0]["message"]


async def test_a_bookkeepers_hand_set_fields_survive_our_update(system: System):
    # e-conomic's PUT replaces the whole customer: what we do not send is cleared. Our update
    # sends the record as read with our change merged in.
    await _settings(system, update_fields=["phone"])
    first = await _book(system, email="kept@example.com", phone="+4511111111")
    number = first["customer_number"]
    headers = {"X-AppSecretToken": "test-app", "X-AgreementGrantToken": system.grant}
    async with system.sandbox() as sandbox:
        path = f"/economic/customers/{number}"
        contact = await sandbox.post(f"{path}/contacts", json={"name": "Bo"}, headers=headers)
        place = await sandbox.post(
            f"{path}/delivery-locations", json={"address": "Lager 2"}, headers=headers
        )
        assert contact.status_code == place.status_code == 201
        record = (await sandbox.get(path, headers=headers)).json()
        by_hand = {
            "attention": {"customerContactNumber": 1},
            "customerContact": {"customerContactNumber": 1},
            "salesPerson": {"employeeNumber": 4},
            "priceGroup": {"priceGroupNumber": 2},
            "defaultDeliveryLocation": {"deliveryLocationNumber": 1},
            "website": "https://kept.example",
            "creditLimit": 5000,
        }
        answer = await sandbox.put(path, json={**record, **by_hand}, headers=headers)
        assert answer.status_code == 200, answer.text

    second = await _book(system, email="kept@example.com", phone="+4522222222")
    assert second["customer_number"] == number
    resolved = [e for e in second["timeline"] if e["step"] == "customer.resolved"]
    assert "Updated" in resolved[0]["message"]
    [customer] = (await system.ledger_state())["customers"]
    assert "22222222" in customer["telephoneAndFaxNumber"]
    assert customer["attention"]["customerContactNumber"] == 1
    assert customer["customerContact"]["customerContactNumber"] == 1
    assert customer["salesPerson"]["employeeNumber"] == 4
    assert customer["priceGroup"] == {"priceGroupNumber": 2}
    assert customer["defaultDeliveryLocation"]["deliveryLocationNumber"] == 1
    assert customer["website"] == "https://kept.example"
    assert str(customer["creditLimit"]) in ("5000", "5000.0", "5000.00")


async def test_links_are_listed_and_can_be_pointed_elsewhere(system: System):
    first = await _book(system, email="relink@example.com")
    other = await _book(system, email="other@example.com")
    customers = system.apps["customers"]
    links = (await customers.get("/links", params={"connection": "demo"})).json()
    assert {link["match_key"] for link in links} >= {
        "email:relink@example.com",
        "email:other@example.com",
    }
    moved = await customers.put(
        "/links/demo/email:relink@example.com", json={"customer_number": other["customer_number"]}
    )
    assert moved.status_code == 200
    again = await _book(system, email="relink@example.com")
    assert again["customer_number"] == other["customer_number"] != first["customer_number"]


async def test_new_shipping_address_becomes_a_delivery_location_once(system: System):
    await _settings(system, update_addresses="shipping")
    home = {
        "address1": "Vesterbrogade 1",
        "zip": "1620",
        "city": "København V",
        "country": "Denmark",
        "country_code": "DK",
        "name": "Ann Berg",
    }
    summer = {**home, "address1": "Strandvejen 99", "zip": "3000", "city": "Helsingør"}
    first = await _book(system, email="ann@example.com", shipping_address=home)
    second = await _book(system, email="ann@example.com", shipping_address=summer)
    third = await _book(system, email="ann@example.com", shipping_address=summer)
    number = first["customer_number"]
    assert second["customer_number"] == third["customer_number"] == number
    async with system.sandbox() as sandbox:
        answer = await sandbox.get(
            f"/economic/customers/{number}/delivery-locations",
            headers={"X-AppSecretToken": "test-app", "X-AgreementGrantToken": system.grant},
        )
    addresses = [loc["address"] for loc in answer.json()["collection"]]
    assert addresses == ["Strandvejen 99"]  # added once; the first order created the customer
    resolved = [e for e in second["timeline"] if e["step"] == "customer.resolved"]
    assert "delivery location" in resolved[0]["message"]


async def test_a_known_buyer_whose_customer_was_merged_is_told_so(system: System):
    # Two e-conomic customers for one buyer; the first order links the buyer to 9011.
    async with system.sandbox() as sandbox:
        seeded = await sandbox.post(
            f"/_sandbox/agreements/{system.grant}/customers",
            json=[
                {"customerNumber": 9011, "name": "Anna Hansen", "email": "anna@example.dk"},
                {"customerNumber": 9012, "name": "Anna H.", "email": "ANNA@Example.DK"},
            ],
        )
        assert seeded.status_code == 201, seeded.text
    first = await _book(system, email="anna@example.dk")
    assert first["customer_number"] == 9011

    customers = system.apps["customers"]
    await customers.post("/connections/demo/import-debtors")
    [group] = (await customers.get("/connections/demo/duplicates")).json()["groups"]
    merged = await customers.post(
        f"/connections/demo/duplicates/{group['id']}/merge", json={"survivor": 9012}
    )
    assert merged.json()["links_repointed"] == 1

    # The next order finds the buyer by the (repointed) link: the timeline says why it moved.
    second = await _book(system, email="anna@example.dk")
    assert second["status"] == "booked" and second["customer_number"] == 9012
    [resolved] = [e for e in second["timeline"] if e["step"] == "customer.resolved"]
    assert "Customer 9011 was merged into 9012 as a duplicate (email)" in resolved["message"]
    assert "redirected to 9012" in resolved["message"]

    # Pointing the buyer somewhere by hand ends the story.
    await customers.put("/links/demo/email:anna@example.dk", json={"customer_number": 9012})
    third = await _book(system, email="anna@example.dk")
    [resolved] = [e for e in third["timeline"] if e["step"] == "customer.resolved"]
    assert "merged" not in resolved["message"]
