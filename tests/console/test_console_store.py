"""The console's own database: its migrations make exactly its models' tables, and a session
ends at log-out and at its expiry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from lb_common.db import Database
from lb_common.migrations import migrate, schema_differences
from lb_console.bootstrap import MIGRATIONS
from lb_console.sessions import SessionStore, cookie_value, session_id_from_cookie, signing_key
from lb_console.store import TABLES


async def test_migrations_match_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/console.db")
    try:
        await migrate(db, MIGRATIONS, TABLES)
        assert await schema_differences(db, TABLES) == []
    finally:
        await db.dispose()


async def test_a_session_ends_at_logout_and_at_expiry(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/console.db")
    try:
        await migrate(db, MIGRATIONS, TABLES)
        sessions = SessionStore(db, timedelta(hours=1))
        session_id, started = await sessions.start("Alice")
        assert (await sessions.find(session_id)) == started
        await sessions.end(session_id)
        assert await sessions.find(session_id) is None

        expired = SessionStore(db, timedelta(seconds=-1))
        old_id, _ = await expired.start("Bob")
        assert await sessions.find(old_id) is None
    finally:
        await db.dispose()


def test_a_cookie_not_signed_by_us_is_no_session() -> None:
    key = signing_key(None, "admin-token")
    value = cookie_value(key, "abc")
    assert session_id_from_cookie(key, value) == "abc"
    assert session_id_from_cookie(key, "abc.0000") is None
    assert session_id_from_cookie(signing_key(None, "another-token"), value) is None
    assert session_id_from_cookie(key, None) is None
