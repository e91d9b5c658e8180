"""The real processes of `make up` (scripts/stack.py) set up to book into the sandbox's QuickBooks:
free ports, one QuickBooks token store, Intuit's consent in the sandbox, short retry schedules
and leases so a killed process's successor finishes in seconds; on SQLite files or PostgreSQL
databases. Used by the crash tests that kill a service mid-flight (tests/e2e/test_quickbooks_*).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scripts.stack import PROCESSES, Stack
from tests.support import services
from tests.support.broker import delete_prefix
from tests.support.stores import StoreKind, postgres_store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request_json(
    method: str, url: str, *, body: Any = None, token: str | None = None, timeout: float = 10
) -> Any:
    """`body` as JSON to `url`; the JSON answer (an HTTPError for a status of 400 or more)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def quickbooks_stack(data_dir: Path, kind: StoreKind = "sqlite") -> Iterator[Stack]:
    """The stack started on `kind`, its sandbox the services' QuickBooks (and e-conomic)."""
    running = Stack.prepare(data_dir=data_dir, broker_prefix=f"t{uuid.uuid4().hex[:10]}")
    for _, _, variable, _, _ in PROCESSES:
        running.env[variable] = str(free_port())
    sandbox = running.url("sandbox")
    running.env["LEDGERBRIDGE_ECONOMIC_BASE_URL"] = f"{sandbox}/economic"
    running.env["LEDGERBRIDGE_QUICKBOOKS_TOKEN_DATABASE_URL"] = (
        f"sqlite+aiosqlite:///{data_dir / 'qbtokens.db'}"
    )
    running.env["LEDGERBRIDGE_QUICKBOOKS_AUTHORIZE_URL"] = f"{sandbox}/quickbooks/connect/oauth2"
    running.env["LEDGERBRIDGE_QUICKBOOKS_TOKEN_URL"] = (
        f"{sandbox}/quickbooks/oauth2/v1/tokens/bearer"
    )
    running.env["LEDGERBRIDGE_INGEST_PUBLIC_URL"] = running.url("ingest")
    for cause in ("CONTENTION", "LEDGER_UNAVAILABLE", "RATE_LIMITED", "UNEXPECTED"):
        running.env[f"LEDGERBRIDGE_RETRY_{cause}"] = "300ms, 600ms, 1200ms"
    # The killed process held the order's lease: its successor waits this long for it (and
    # meets contention meanwhile, hence the longer contention schedule).
    running.env["LEDGERBRIDGE_INVOICING_ORDER_LEASE_SECONDS"] = "2"
    running.env["LEDGERBRIDGE_RETRY_CONTENTION"] = "300ms x20"
    running.env["LEDGERBRIDGE_AMQP_URL"] = services.amqp_url()
    databases = None
    if kind == "postgresql":
        databases = asyncio.run(postgres_store())
        for name, _, _, _, _ in PROCESSES[1:]:
            running.env[f"LEDGERBRIDGE_{name.upper()}_DATABASE_URL"] = asyncio.run(
                databases.url(name)
            )
    running.start()
    try:
        yield running
    finally:
        running.stop()
        asyncio.run(delete_prefix(services.amqp_url(), running.broker_prefix))
        if databases is not None:
            asyncio.run(databases.close())


def admin(stack: Stack, service: str, method: str, path: str, body: Any = None) -> Any:
    return request_json(method, f"{stack.url(service)}{path}", body=body, token=stack.admin_token)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _location(url: str) -> str:
    """Where a 302 sends the browser (Intuit's consent page sends it back to ingest)."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(url, timeout=10)
    except urllib.error.HTTPError as answer:
        assert answer.code == 302, answer.read()
        return str(answer.headers["Location"])
    raise AssertionError("the consent page did not redirect")


def connect_quickbooks(stack: Stack, connection: str) -> str:
    """The connection's ledger becomes a QuickBooks company, through Intuit's consent as a
    bookkeeper gives it (this test playing the browser); its realm id once invoicing knows."""
    started = admin(
        stack,
        "ingest",
        "POST",
        f"/connections/{connection}/quickbooks/connect",
        {"base_url": f"{stack.url('sandbox')}/quickbooks"},
    )
    query = urlsplit(_location(started["consent_url"])).query
    realm = parse_qs(query)["realmId"][0]
    with urllib.request.urlopen(f"{stack.url('ingest')}/grants/quickbooks?{query}", timeout=10):
        pass
    wait_until(
        lambda: _ledger_kind(stack, connection) == "quickbooks",
        what=f"invoicing to learn {connection}'s QuickBooks ledger",
    )
    return realm


def _ledger_kind(stack: Stack, connection: str) -> str | None:
    """What invoicing's copy of the connection says its ledger is (SQLite or PostgreSQL)."""
    url = stack.env.get("LEDGERBRIDGE_INVOICING_DATABASE_URL")
    if url is None:
        path = stack.data_dir / "invoicing.db"
        if not path.exists():
            return None
        with sqlite3.connect(path) as db:
            row = db.execute(
                "SELECT ledger_kind FROM connection_copies WHERE name = ?", (connection,)
            ).fetchone()
        return None if row is None else str(row[0])

    async def read() -> str | None:
        import asyncpg

        plain = url.replace("postgresql+asyncpg://", "postgresql://")
        db = await asyncpg.connect(plain)
        try:
            value = await db.fetchval(
                "SELECT ledger_kind FROM connection_copies WHERE name = $1", connection
            )
        finally:
            await db.close()
        return None if value is None else str(value)

    return asyncio.run(read())


def quickbooks_state(stack: Stack, realm: str) -> dict[str, list[dict[str, Any]]]:
    """The company's entities as the sandbox's QuickBooks holds them (what a bookkeeper sees)."""
    state = request_json(
        "GET", f"{stack.url('sandbox')}/_sandbox/quickbooks/companies/{realm}/state"
    )
    entities: dict[str, list[dict[str, Any]]] = state["entities"]
    return entities


def quickbooks_calls(stack: Stack, realm: str) -> dict[str, int]:
    """Calls the company answered, by `METHOD /path`."""
    answer = request_json(
        "GET", f"{stack.url('sandbox')}/_sandbox/quickbooks/companies/{realm}/calls"
    )
    calls: dict[str, int] = answer["calls"]
    return calls
