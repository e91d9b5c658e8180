"""Fixtures: a fresh sandbox app and an httpx client speaking to it in-process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings


@pytest.fixture
def app() -> Any:
    return create_app(SandboxSettings(rate_limit_tokens=1_000_000))


@pytest.fixture
def grant_token() -> str:
    return f"grant-{uuid.uuid4().hex}"


@pytest.fixture
async def http(app: Any, grant_token: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"X-AppSecretToken": "app", "X-AgreementGrantToken": grant_token}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test", headers=headers
    ) as client:
        yield client
