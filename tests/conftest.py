"""Shared test fixtures. Tests use the real RabbitMQ and real databases of this machine.

Each test gets its own broker prefix (exchange and queue names), its own SQLite files and its
own sandbox agreement, so runs never see each other's messages or data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.broker import delete_prefix

AMQP_URL = os.environ.get("LEDGERBRIDGE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture
def amqp_url() -> str:
    return AMQP_URL


@pytest.fixture
async def broker_prefix() -> AsyncIterator[str]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield prefix
    await delete_prefix(AMQP_URL, prefix)


@pytest.fixture
def sqlite_url(tmp_path: Path):
    def make(name: str) -> str:
        return f"sqlite+aiosqlite:///{tmp_path / name}.db"

    return make
