"""The daily ledger call count (lb_common/ledger_calls.py): the real e-conomic client against the
sandbox counts every request it sends, per agreement and connection; replicas of a service add
up in one table, a restart keeps what was counted, a flush that fails loses nothing, and the
admin route answers per UTC day, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from economic_support import APP_SECRET, BASE_URL, RecordingTransport
from fastapi import FastAPI

from lb_common.db import Database
from lb_common.ledger_calls import (
    CallTally,
    LedgerCallCount,
    agreement_key,
    calls_on,
    ledger_calls_router,
    utc_day,
)
from lb_common.metric_labels import for_connection
from lb_common.settings import CommonSettings
from lb_connectors.call_retry import CallRetry
from lb_connectors.economic import EconomicClient
from lb_connectors.ledgers import LedgerDirectory
from tests.support.stores import Store


@pytest.fixture
async def replicas(store: Store) -> AsyncIterator[tuple[Database, Database]]:
    """Two processes of one service: one database, an engine each."""
    url = await store.url("svc")
    first, second = Database(url), Database(url)
    await first.create_tables([LedgerCallCount])
    yield first, second
    await first.dispose()
    await second.dispose()


def _client(transport: RecordingTransport, grant: str, tally: CallTally) -> EconomicClient:
    return EconomicClient(
        BASE_URL,
        APP_SECRET,
        grant,
        transport=transport,
        retry=CallRetry(backoff=0.01),
        on_call=tally.counter_for(agreement_key(BASE_URL, grant)),
    )


def _total(rows: list[dict[str, object]], agreement: str) -> dict[object, object]:
    return {r["connection"]: r["calls"] for r in rows if r["agreement"] == agreement}


async def test_replicas_add_up_per_agreement_and_a_restart_keeps_the_count(
    replicas, transport: RecordingTransport
):
    a, b = replicas
    grant, other = f"grant-{uuid.uuid4().hex}", f"grant-{uuid.uuid4().hex}"
    first, second = CallTally(), CallTally()
    async with _client(transport, grant, first) as one, _client(transport, grant, second) as two:
        with for_connection("north"):
            await one.list_layouts()
            await one.list_vat_zones()
            await two.list_payment_terms()
        with for_connection("south"):
            await two.list_layouts()
    async with _client(transport, other, second) as three:
        with for_connection("west"):
            await three.list_layouts()
    sent = len(transport.requests)
    assert first.pending + second.pending == sent == 5
    assert await first.flush(a) == 2 and await second.flush(b) == 3

    day = utc_day()
    rows = await calls_on(a, day)
    assert _total(rows, agreement_key(BASE_URL, grant)) == {"north": 3, "south": 1}
    assert _total(rows, agreement_key(BASE_URL, other)) == {"west": 1}
    # The fingerprint names the agreement; no token is in what is kept.
    assert all(grant not in str(r) and other not in str(r) for r in rows)

    restarted = CallTally()  # a new process: the table still has the day's count
    async with _client(transport, grant, restarted) as again:
        with for_connection("north"):
            await again.list_layouts()
    await restarted.flush(b)
    assert _total(await calls_on(a, day), agreement_key(BASE_URL, grant))["north"] == 4


async def test_a_failed_flush_keeps_its_counts_for_the_next(store: Store, tmp_path):
    db = Database(await store.url("svc"))
    tally = CallTally()
    with for_connection("north"):
        for _ in range(3):
            tally.counter_for("abc")()
    with pytest.raises(Exception):  # noqa: B017 - no table yet: the database refuses
        await tally.flush(db)
    assert tally.pending == 3
    await db.create_tables([LedgerCallCount])
    assert await tally.flush(db) == 3 and tally.pending == 0
    assert await calls_on(db, utc_day()) == [
        {"agreement": "abc", "connection": "north", "calls": 3}
    ]
    await db.dispose()


async def test_the_admin_route_answers_per_utc_day(store: Store):
    db = Database(await store.url("svc"))
    await db.create_tables([LedgerCallCount])
    tally = CallTally()
    tally.counter_for("abc")()  # outside any connection: counted as `none`
    await tally.flush(db)
    app = FastAPI()
    app.include_router(ledger_calls_router(db))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as http:
        today = (await http.get("/ledger-calls")).json()
        assert today == {
            "day": utc_day(),
            "calls": [{"agreement": "abc", "connection": "none", "calls": 1}],
        }
        assert (await http.get("/ledger-calls", params={"day": "2020-01-01"})).json()["calls"] == []
        refused = await http.get("/ledger-calls", params={"day": "yesterday"})
        assert refused.status_code == 422 and "YYYY-MM-DD" in refused.text
    await db.dispose()


async def test_a_services_ledger_directory_counts_the_calls_of_the_ledgers_it_opens(
    transport: RecordingTransport, grant_token: str
):
    # What the services wire (bootstrap.py): LedgerDirectory(..., tally=tally). The connection's
    # ledger is the environment's agreement here; every request its adapter sends is counted.
    settings = CommonSettings(
        economic_base_url=BASE_URL,
        economic_app_secret_token=APP_SECRET,
        economic_agreement_grant_token=grant_token,
    )
    tally = CallTally()
    ledgers = LedgerDirectory(settings, transport=transport, tally=tally)
    try:
        with for_connection("demo"):
            await ledgers.ledger("demo").reference_data()
    finally:
        await ledgers.aclose()
    assert len(transport.requests) > 0
    assert tally.pending == len(transport.requests)
