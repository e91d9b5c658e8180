"""Shared test fixtures. Tests use the real RabbitMQ and real databases (tests/support/services.py
says where they are found).

Each test gets its own broker prefix (exchange and queue names), its own databases (SQLite files
in its folder, or fresh PostgreSQL databases: the `store` fixture) and its own sandbox
agreement, so runs never see each other's messages or data.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support import services, system
from tests.support.broker import delete_prefix
from tests.support.stores import (
    KINDS,
    SQLiteStore,
    Store,
    drop_postgres_databases,
    postgres_store,
    selected_kinds,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stores",
        default=os.environ.get("LEDGERBRIDGE_TEST_STORES", ",".join(KINDS)),
        help="comma-separated stores that tests asking for `store` run on "
        f"(of {', '.join(KINDS)}; default both, or LEDGERBRIDGE_TEST_STORES)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store" in metafunc.fixturenames:
        metafunc.parametrize("store", selected_kinds(metafunc.config), indirect=True)


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> Iterator[None]:
    yield
    asyncio.run(drop_postgres_databases())


@pytest.fixture
def amqp_url() -> str:
    return services.amqp_url()


@pytest.fixture
async def broker_prefix() -> AsyncIterator[str]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield prefix
    await delete_prefix(services.amqp_url(), prefix)


@pytest.fixture
def sqlite_url(tmp_path: Path):
    def make(name: str) -> str:
        return f"sqlite+aiosqlite:///{tmp_path / name}.db"

    return make


@pytest.fixture
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The test's databases (see tests/support/stores.py); `running_system` uses them too."""
    kind = getattr(request, "param", "sqlite")
    made: Store = SQLiteStore(tmp_path) if kind == "sqlite" else await postgres_store()
    with system.default_store(made):
        try:
            yield made
        finally:
            await made.close()
