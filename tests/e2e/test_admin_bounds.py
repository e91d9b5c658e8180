"""Admin routes refuse what their database cannot hold with a 422 naming the parameter, instead
of a server error (issue #17; each input below was a 500 found by `make fuzz-api` or by reading
the code behind it). On each store: SQLite and PostgreSQL refuse different things."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.system import System, running_system

BEYOND_INT64 = str(2**63)  # one past the largest 64-bit integer
BEYOND_INT32 = str(2**31)  # deliveries.id is an INTEGER: 32-bit on PostgreSQL


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


def _names(response, parameter: str) -> bool:
    return response.status_code == 422 and parameter in response.text


async def test_ids_and_offsets_beyond_64_bits_are_refused(system: System) -> None:
    ingest, inventory = system.apps["ingest"], system.apps["inventory"]
    # found by the fuzzer: GET /deliveries/698508137141750010470606045184/body was a 500
    body = await ingest.get("/deliveries/698508137141750010470606045184/body")
    assert _names(body, "delivery_id"), body.text
    # found on PostgreSQL: an id past the INTEGER column's 32 bits was a 500 there
    assert _names(await ingest.get(f"/deliveries/{BEYOND_INT32}/body"), "delivery_id")
    assert (await ingest.get("/deliveries/0/body")).status_code == 422
    # the largest id is a plain "not found"
    assert (await ingest.get(f"/deliveries/{2**31 - 1}/body")).status_code == 404
    for client, path in (
        (ingest, "/deliveries"),
        (ingest, "/orders"),
        (inventory, "/mismatches"),
        (inventory, "/sync/runs"),
        (inventory, "/stock"),
        (system.apps["invoicing"], "/invoices"),
        (system.apps["customers"], "/links"),
    ):
        page = await client.get(path, params={"offset": BEYOND_INT64})
        assert _names(page, "offset"), (path, page.status_code, page.text)
        assert (await client.get(path, params={"offset": -1})).status_code == 422, path


async def test_invoicing_filters_stay_within_what_the_ledger_holds(system: System) -> None:
    invoicing = system.apps["invoicing"]
    # found by the fuzzer: a minimum beyond the report's 64-bit millionths was a 500
    report = await invoicing.get(
        "/reports/customers", params={"min_total": "2.720546158800388e+16", "format": "csv"}
    )
    assert _names(report, "min_total"), report.text
    for value in ("NaN", "Infinity", "1E-999999"):
        refused = await invoicing.get("/invoices", params={"min_total": value})
        assert _names(refused, "min_total"), (value, refused.text)
    assert (await invoicing.get("/reports/customers", params={"min_total": "1000"})).json() == []
    for path in ("/invoices", "/credit-notes"):
        number = await invoicing.get(path, params={"customer_number": BEYOND_INT64})
        assert _names(number, "customer_number"), (path, number.text)
        assert (await invoicing.get(path, params={"customer_number": 5})).json() == []
    assert (await invoicing.get("/credit-notes", params={"limit": -2641})).status_code == 422


async def test_a_time_that_leaves_the_calendar_in_utc_is_refused(system: System) -> None:
    ingest = system.apps["ingest"]
    # valid ISO 8601 with a zone, but a year 10000 (or 0) once moved to UTC: was a 500
    for name, value in (
        ("since", "9999-12-31T23:00:00-05:00"),
        ("until", "0001-01-01T00:30:00+01:00"),
    ):
        refused = await ingest.get("/orders", params={name: value})
        assert refused.status_code == 422 and name in refused.json()["detail"], refused.text
    naive = await ingest.get("/orders", params={"since": "2025-03-01T00:00:00"})
    assert naive.status_code == 422 and "since needs a time zone" in naive.json()["detail"]
    fine = await ingest.get("/orders", params={"since": "2025-03-01T01:00:00+01:00"})
    assert fine.status_code == 200 and fine.json()["total"] == 0
    replay = await ingest.post(
        "/orders/replay", params={"since": "9999-12-31T23:00:00-05:00", "dry_run": "true"}
    )
    assert replay.status_code == 422, replay.text


async def test_parked_lists_are_paged_like_every_other_list(system: System) -> None:
    for name, client in system.apps.items():
        assert (await client.get("/parked", params={"limit": 0})).status_code == 422, name
        assert (await client.get("/parked", params={"limit": 1001})).status_code == 422, name
        assert (await client.get("/parked", params={"limit": 1000})).json() == [], name
