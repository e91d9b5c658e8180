"""Debtor import (2,500 sandbox customers, three pages), duplicate groups, and a merge that
sends the next order to the surviving customer; against real RabbitMQ and the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.platforms.factories import shopify_json, shopify_order
from tests.support.system import System, running_system

FILLERS = 2491
PLANTED: list[dict[str, Any]] = [
    # same CVR, written differently
    {"customerNumber": 9001, "name": "Tøj & Co ApS", "corporateIdentificationNumber": "12345674"},
    {"customerNumber": 9002, "name": "Toej og Co", "corporateIdentificationNumber": "DK 12 34 56 74"},
    # same email, different case
    {"customerNumber": 9011, "name": "Anna Hansen", "email": "anna@example.dk"},
    {"customerNumber": 9012, "name": "Anna H.", "email": "ANNA@Example.DK"},
    # same phone in three formats
    {"customerNumber": 9021, "name": "Bo", "telephoneAndFaxNumber": "87 65 43 21"},
    {"customerNumber": 9022, "name": "Bo Berg", "mobilePhone": "+45 87654321"},
    {"customerNumber": 9023, "name": "B. Berg", "telephoneAndFaxNumber": "004587654321"},
    # similar names at the same address
    {"customerNumber": 9031, "name": "Karen Jensen", "address": "Nørregade 7", "zip": "8000",
     "city": "Aarhus C"},
    {"customerNumber": 9032, "name": "Karen Jenssen", "address": "Nørregade 7.", "zip": "8000",
     "city": "aarhus c"},
]  # fmt: skip
EXPECTED = {
    ("cvr", (9001, 9002)),
    ("email", (9011, 9012)),
    ("phone", (9021, 9022, 9023)),
    ("name_address", (9031, 9032)),
}


def _filler(n: int) -> dict[str, Any]:
    return {
        "name": f"Kunde {n:05d} Nielsen",
        "email": f"kunde{n}@example.com",
        "telephoneAndFaxNumber": f"3{n:07d}",
        "address": f"Gade {n}",
        "zip": "2100",
        "city": "København Ø",
    }


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        async with httpx.AsyncClient(
            transport=running.ledger_transport, base_url="http://sandbox"
        ) as sandbox:
            for seeds in ([_filler(n) for n in range(1, FILLERS + 1)], PLANTED):
                answer = await sandbox.post(
                    f"/_sandbox/agreements/{running.grant}/customers", json=seeds
                )
                assert answer.status_code == 201, answer.text
        yield running


async def test_import_finds_planted_duplicates_and_a_merge_redirects_orders(system: System):
    customers = system.apps["customers"]

    report = (await customers.post("/connections/demo/import-debtors")).json()
    print(f"\nimport of {report['seen']} customers: {report['seconds']} s")
    assert (report["seen"], report["imported"], report["updated"], report["pages"]) == (
        2500,
        2500,
        0,
        3,
    )
    again = (await customers.post("/connections/demo/import-debtors")).json()
    assert (again["imported"], again["updated"], again["unchanged"], again["removed"]) == (
        0,
        0,
        2500,
        0,
    )

    listing = (await customers.get("/connections/demo/duplicates")).json()
    groups = {(g["rule"], tuple(g["customer_numbers"])): g for g in listing["groups"]}
    assert set(groups) == EXPECTED  # the 2,491 ordinary customers make no groups
    assert "anna@example.dk" in groups[("email", (9011, 9012))]["evidence"]
    assert "+4587654321" in groups[("phone", (9021, 9022, 9023))]["evidence"]
    assert "alike" in groups[("name_address", (9031, 9032))]["evidence"]

    # Link suggestions: a link to one phone duplicate names the others.
    await customers.put("/links/demo/phone:+4587654321", json={"customer_number": 9021})
    [suggestion] = (await customers.get("/connections/demo/suggestions")).json()
    assert suggestion["also_found_on"] == [9022, 9023]

    # A link to the customer that will be merged away follows the merge.
    await customers.put("/links/demo/shop-customer:77", json={"customer_number": 9011})
    email_group = groups[("email", (9011, 9012))]["id"]
    refused = await customers.post(
        f"/connections/demo/duplicates/{email_group}/merge", json={"survivor": 9001}
    )
    assert refused.status_code == 422 and "not in duplicate group" in refused.text
    unknown = await customers.post(
        "/connections/demo/duplicates/nope/merge", json={"survivor": 9012}
    )
    assert unknown.status_code == 404

    merged = await customers.post(
        f"/connections/demo/duplicates/{email_group}/merge", json={"survivor": 9012}
    )
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert (body["survivor"], body["merged"], body["links_repointed"]) == (9012, [9011], 1)
    assert "not deleted or changed" in body["message"]
    links = (await customers.get("/links", params={"connection": "demo"})).json()
    assert {link["match_key"]: link["customer_number"] for link in links}[
        "shop-customer:77"
    ] == 9012
    listing = (await customers.get("/connections/demo/duplicates")).json()
    [shown] = [g for g in listing["groups"] if g["id"] == email_group]
    assert shown["merged_into"] == {"9011": 9012}

    # The next order with that email finds 9011 in e-conomic and is booked on the survivor.
    order_body = shopify_json(
        shopify_order(lines=[{"sku": "MUG-BLACK", "title": "Mug"}], email="anna@example.dk")
    )
    key = (await system.post_shopify("orders/paid", order_body)).json()["order_key"]
    order = await system.wait_for_status(key, "booked", "failed", timeout=30)
    assert order["status"] == "booked", order.get("status_reason")
    assert order["customer_number"] == 9012
    [resolved] = [e for e in order["timeline"] if e["step"] == "customer.resolved"]
    assert "merged into 9012" in resolved["message"]
    assert "redirected" in resolved["message"]

    # e-conomic still has both customers, unchanged.
    ledger = (await system.ledger_state())["customers"]
    assert len(ledger) == 2500
    assert {
        c["customerNumber"]: c["email"] for c in ledger if c["customerNumber"] in (9011, 9012)
    } == {
        9011: "anna@example.dk",
        9012: "ANNA@Example.DK",
    }
