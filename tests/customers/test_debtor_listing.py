"""The imported debtor index as the admin API lists it: customer ids are text in the store, yet
numbers are shown and sorted as numbers (9 before 10), and filtered by number."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.system import System, running_system


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path, "customers") as running:
        async with running.sandbox() as sandbox:
            answer = await sandbox.post(
                f"/_sandbox/agreements/{running.grant}/customers",
                json=[
                    {"customerNumber": n, "name": f"Kunde {n}", "email": f"k{n}@example.dk"}
                    for n in (100, 9, 10)
                ],
            )
            assert answer.status_code == 201, answer.text
        yield running


async def test_debtors_are_listed_by_number_as_numbers(system: System):
    customers = system.apps["customers"]
    report = (await customers.post("/connections/demo/import-debtors")).json()
    assert report["imported"] == 3
    listed = (await customers.get("/connections/demo/debtors")).json()
    assert [d["customer_number"] for d in listed["debtors"]] == [9, 10, 100]
    one = await customers.get("/connections/demo/debtors", params={"customer_number": 10})
    assert [d["name"] for d in one.json()["debtors"]] == ["Kunde 10"]
