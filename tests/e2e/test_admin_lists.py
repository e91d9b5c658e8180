"""Admin lists are bounded: every list route refuses a page larger than its maximum, and the
queries behind them (and the webhook de-duplication) are answered from an index, never by
reading a whole table or sorting it (checked with SQLite's EXPLAIN QUERY PLAN)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.platforms.factories import SHOPIFY_SHOP, fixture
from tests.support.stores import Store
from tests.support.system import System, running_system

HKD = fixture("shopify_orders_create_discounts_HKD.json")
HKD_KEY = f"shopify:{SHOPIFY_SHOP}:{json.loads(HKD)['id']}"

# (service, path, largest page)
LIST_ROUTES = [
    ("ingest", "/orders", 500),
    ("ingest", "/deliveries", 1000),
    ("customers", "/links", 1000),
    ("customers", "/connections/demo/duplicates", 1000),
    ("customers", "/connections/demo/merges", 10_000),
    ("customers", "/connections/demo/suggestions", 1000),
    ("invoicing", "/invoices", 1000),
    ("invoicing", "/credit-notes", 1000),
    ("invoicing", "/reports/customers", 10_000),
    ("inventory", "/stock", 5000),
    ("inventory", "/links", 5000),
    ("inventory", "/mismatches", 5000),
    ("inventory", "/sync/runs", 200),
]
LISTED_TABLES = ("orders", "deliveries", "customer_links", "invoice_links", "credit_note_links",
                 "stock_levels", "sku_links", "stock_mismatches", "stock_sync_runs")  # fmt: skip


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


async def test_every_list_route_caps_its_page(system: System) -> None:
    for service, path, largest in LIST_ROUTES:
        client = system.apps[service]
        fits = await client.get(path, params={"limit": largest, "offset": 0})
        assert fits.status_code == 200, (path, fits.text)
        too_many = await client.get(path, params={"limit": largest + 1})
        assert too_many.status_code == 422, (path, too_many.status_code)
        assert "limit" in too_many.text


@contextmanager
def _selects() -> Iterator[list[tuple[str, str, Any]]]:
    """The SELECTs run on any SQLite file meanwhile: (file, statement, parameters)."""
    seen: list[tuple[str, str, Any]] = []

    def record(conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if conn.dialect.name == "sqlite" and statement.lstrip().upper().startswith("SELECT"):
            seen.append((conn.engine.url.database, statement, parameters))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _plan_problems(file: str, statement: str, parameters: Any) -> list[str]:
    with sqlite3.connect(file) as connection:
        plan = [
            row[-1] for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ]
    # A walk in index (or primary-key) order is a SCAN too: with a LIMIT it reads one page. A
    # list's total (count without a filter) reads an index whole, as it must.
    paged = re.search(r"ORDER BY .*\bLIMIT\b", statement, re.DOTALL) is not None
    total = "count(*)" in statement and "WHERE" not in statement
    problems = [step for step in plan if step.startswith("SCAN ") and not (paged or total)]
    problems += [step for step in plan if "TEMP B-TREE FOR ORDER BY" in step]
    return problems


async def test_list_queries_and_webhook_dedupe_use_indexes(system: System, store: Store) -> None:
    if store.kind != "sqlite":
        pytest.skip("reads SQLite's query plans; the indexes are the same on PostgreSQL")
    await system.post_shopify("orders/paid", HKD, webhook_id="webhook-1")
    await system.wait_for_status(HKD_KEY, "booked")
    calls = [
        ("ingest", "/orders/counts", {}),
        ("ingest", "/orders", {}),
        ("ingest", "/orders", {"status": "failed"}),
        ("ingest", "/orders", {"since": "2025-01-01T00:00:00Z"}),
        ("ingest", "/deliveries", {}),
        ("ingest", "/deliveries", {"outcome": "accepted"}),
        ("customers", "/links", {}),
        ("invoicing", "/invoices", {}),
        ("invoicing", "/credit-notes", {}),
        ("inventory", "/stock", {}),
        ("inventory", "/links", {}),
        ("inventory", "/mismatches", {}),
        ("inventory", "/sync/runs", {}),
    ]
    with _selects() as seen:
        for service, path, params in calls:
            assert (await system.apps[service].get(path, params=params)).status_code == 200
        await system.post_shopify("orders/paid", HKD, webhook_id="webhook-2")
    checked = 0
    problems = {}
    for file, statement, parameters in seen:
        if not any(re.search(rf"\bFROM {table}\b", statement) for table in LISTED_TABLES):
            continue
        checked += 1
        found = _plan_problems(file, statement, parameters)
        if found:
            problems[statement] = found
    assert checked >= len(calls)
    assert problems == {}, "\n\n".join(f"{s}\n  -> {p}" for s, p in problems.items())
