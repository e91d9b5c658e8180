"""Every end-to-end test runs on each store (SQLite and PostgreSQL; see tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.support.quickbooks_sandbox import SANDBOX_QBO
from tests.support.stores import Store


@pytest.fixture(autouse=True)
def _on_each_store(store: Store) -> Store:
    return store


@pytest.fixture
async def tokens_url(store: Store, monkeypatch: pytest.MonkeyPatch) -> str:
    """The shared QuickBooks token database, and Intuit's endpoints in the sandbox: every
    service reads its QuickBooks settings (LEDGERBRIDGE_QUICKBOOKS_*) at start."""
    url = await store.url("qbtokens")
    monkeypatch.setenv("LEDGERBRIDGE_QUICKBOOKS_TOKEN_DATABASE_URL", url)
    monkeypatch.setenv("LEDGERBRIDGE_QUICKBOOKS_AUTHORIZE_URL", f"{SANDBOX_QBO}/connect/oauth2")
    monkeypatch.setenv(
        "LEDGERBRIDGE_QUICKBOOKS_TOKEN_URL", f"{SANDBOX_QBO}/oauth2/v1/tokens/bearer"
    )
    return url
