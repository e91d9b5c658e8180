"""Fixtures: the real EconomicClient talking in-process (ASGI) to the real sandbox app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from economic_support import APP_SECRET, BASE_URL, RecordingTransport

from lb_connectors.call_retry import CallRetry
from lb_connectors.economic import EconomicClient
from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings


@pytest.fixture
def settings() -> SandboxSettings:
    return SandboxSettings(rate_limit_tokens=1_000_000)


@pytest.fixture
def sandbox(settings: SandboxSettings) -> Any:
    return create_app(settings)


@pytest.fixture
def grant_token() -> str:
    # A fresh agreement per test: the sandbox isolates state by grant token.
    return f"grant-{uuid.uuid4().hex}"


@pytest.fixture
def transport(sandbox: Any) -> RecordingTransport:
    return RecordingTransport(httpx.ASGITransport(app=sandbox))


@pytest.fixture
async def client(transport: RecordingTransport, grant_token: str) -> AsyncIterator[EconomicClient]:
    # Quick retries with short waits, so tests of persistent failures stay fast.
    retry = CallRetry(backoff=0.01)
    async with EconomicClient(
        BASE_URL, APP_SECRET, grant_token, transport=transport, retry=retry
    ) as c:
        yield c
