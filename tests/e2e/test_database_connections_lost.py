"""PostgreSQL drops every service's connections (a server restart, `pg_terminate_backend`):
the services keep no ping on checkout (lb_common/db.py), so the first statement on a dropped
connection fails. Nothing is lost for it: the message it was for is retried and booked once,
an admin call answers 503 (never a bare 500) and the next one works."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from tests.platforms.factories import shopify_json, shopify_order
from tests.support.stores import Store, postgres_pool
from tests.support.system import System, running_system

SERVICES = ("ingest", "customers", "invoicing", "inventory")


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path, store: Store) -> AsyncIterator[System]:
    if store.kind != "postgresql":
        pytest.skip("the connections a PostgreSQL server drops")
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


async def _terminate_connections(store: Store) -> int:
    names = [make_url(await store.url(service)).database for service in SERVICES]
    admin = await postgres_pool().connect()
    try:
        rows = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()",
            names,
        )
    finally:
        await admin.close()
    return len(rows)


def _order(price: str) -> bytes:
    return shopify_json(shopify_order(lines=[{"sku": "MUG-BLACK", "title": "Mug", "price": price}]))


async def _post_until_accepted(system: System, body: bytes) -> str:
    """As a shop does: a 503 ("send it again") is sent again."""
    for _ in range(5):
        response = await system.post_shopify("orders/paid", body)
        if response.status_code == 200:
            return str(response.json()["order_key"])
        assert response.status_code == 503, response.text
        await asyncio.sleep(0.2)
    raise AssertionError("the webhook was never accepted")


async def test_orders_are_booked_once_after_the_server_drops_every_connection(
    system: System, store: Store
):
    first = await _post_until_accepted(system, _order("100.00"))
    await system.wait_for_status(first, "booked")

    assert await _terminate_connections(store) > 0  # every service held pooled connections

    # The admin API meets a dropped connection: a clear 503, then it works again.
    answers = [(await system.apps["ingest"].get(f"/orders/{first}")).status_code]
    answers.append((await system.apps["ingest"].get(f"/orders/{first}")).status_code)
    assert answers in ([503, 200], [200, 200]), answers

    # Work sent now meets dropped connections in every service: it is retried and booked.
    second = await _post_until_accepted(system, _order("60.00"))
    await system.wait_for_status(second, "booked", timeout=60)

    assert await _terminate_connections(store) > 0
    response = await system.apps["ingest"].get(f"/orders/{second}")
    assert response.status_code in (200, 503), response.text
    if response.status_code == 503:
        assert response.json() == {"detail": "the database connection was lost; try again"}
        assert response.headers["Retry-After"] == "1"

    ledger = await system.ledger_state()
    assert len(ledger["booked_invoices"]) == 2  # each order booked exactly once
