"""A parked order retried after its ledger forgot its customers (a ledger reset, or restored
from an older copy) must not be invoiced to whoever holds its customer number now.

What a new user hit with `make up`: the parked message survived, the ledger started empty, and
the retry drafted the old order onto today's customer 1, a different person.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from lb_common.events import CustomerResolved, MatchEvidence
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.broker import probe
from tests.support.system import System, running_system


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


async def _post(system: System, email: str, first_name: str, sku: str) -> str:
    order = shopify_order(lines=[{"sku": sku, "title": "Mug", "price": "75.00"}], email=email)
    for part in ("customer", "billing_address", "shipping_address"):
        order[part] = {**order[part], "first_name": first_name, "last_name": "Test"}
        if "name" in order[part]:
            order[part]["name"] = f"{first_name} Test"
    answer = await system.post_shopify("orders/paid", shopify_json(order))
    return str(answer.json()["order_key"])


async def _reason_of_next_failure(system: System, key: str, earlier: str) -> str:
    for _ in range(200):
        order = await system.order(key)
        if order["status"] == "failed" and order["status_reason"] != earlier:
            return str(order["status_reason"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"order {key} did not fail again: {order}")


async def test_a_retry_onto_a_customer_number_that_is_someone_else_now_stops(system: System):
    invoicing, customers = system.apps["invoicing"], system.apps["customers"]
    # Gustav's order parks in invoicing (a SKU the ledger lacks); he is customer 1 by now.
    gustav = await _post(system, "gustav@example.com", "Gustav", sku="GHOST-9")
    failed = await system.wait_for_status(gustav, "failed")
    assert failed["customer_number"] == 1
    [parked] = (await invoicing.get("/parked")).json()

    # The ledger forgets everything; Karen's order makes her the new customer 1.
    async with system.sandbox() as sandbox:
        await sandbox.post("/_sandbox/reset", params={"agreement": system.grant})
    karen = await _post(system, "karen@example.com", "Karen", sku="MUG-BLACK")
    assert (await system.wait_for_status(karen, "booked"))["customer_number"] == 1

    # The cause of the parking is fixed and the parked message retried: it must not draft
    # Gustav's order onto Karen.
    settings = (await invoicing.get("/connections/demo/settings")).json()
    fixed = {**settings, "unknown_product": "default_product"}
    assert (await invoicing.put("/connections/demo/settings", json=fixed)).is_success
    assert (await invoicing.post(f"/parked/{parked['message_id']}/retry")).status_code == 202
    reason = await _reason_of_next_failure(system, gustav, failed["status_reason"])
    assert "customer 1 is now 'Karen Test' (karen@example.com)" in reason, reason
    assert "'Gustav Test' (gustav@example.com)" in reason
    assert "Nothing was drafted" in reason
    assert "DELETE /links/demo/email:gustav@example.com" in reason
    ledger = await system.ledger_state()
    assert ledger["drafts"] == []
    assert [i["references"]["other"] for i in ledger["booked_invoices"]] == [karen]

    # Doing what it says: the link goes, the replay finds no Gustav in this ledger and creates
    # him; his order is booked on him.
    gone = await customers.delete("/links/demo/email:gustav@example.com")
    assert gone.status_code == 200, gone.text
    assert (await system.apps["ingest"].post(f"/orders/{gustav}/replay")).is_success
    booked = await system.wait_for_status(gustav, "booked")
    assert booked["customer_number"] == 2
    ledger = await system.ledger_state()
    [invoice] = [i for i in ledger["booked_invoices"] if i["references"]["other"] == gustav]
    assert invoice["customer"]["customerNumber"] == 2
    invoice_copy = (await invoicing.get(f"/invoices/{gustav}")).json()
    assert invoice_copy["customer_number"] == 2


async def test_customers_says_which_detail_tied_the_buyer_to_the_customer(
    system: System, amqp_url: str, broker_prefix: str
) -> None:
    async with probe(amqp_url, broker_prefix) as seen:
        for _ in range(2):  # created, then through the link creating it made
            key = await _post(system, "karen@example.com", "Karen", sku="MUG-BLACK")
            await system.wait_for_status(key, "booked")
        # A link a person set may point at any customer on purpose: nothing to check it by.
        linked = await system.apps["customers"].put(
            "/links/demo/email:karen@example.com", json={"customer_number": 1}
        )
        assert linked.is_success
        key = await _post(system, "karen@example.com", "Karen", sku="MUG-BLACK")
        await system.wait_for_status(key, "booked")
        resolved = await seen.wait_for("customer.resolved", 3)
    evidence = [e.parse(CustomerResolved).matched_on for e in resolved]
    karen = MatchEvidence(kind="email", value="karen@example.com")
    assert evidence == [karen, karen, None]
