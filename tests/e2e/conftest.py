"""Every end-to-end test runs on each store (SQLite and PostgreSQL; see tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.support.stores import Store


@pytest.fixture(autouse=True)
def _on_each_store(store: Store) -> Store:
    return store
