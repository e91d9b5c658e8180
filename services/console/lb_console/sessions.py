"""Operators' sessions: a random id in a signed, HttpOnly, SameSite=Strict cookie; the session
row (under the id's hash) holds who logged in, until when, and the session's CSRF token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, delete

from lb_common.db import Database, utcnow
from lb_console.store import ConsoleSession

COOKIE = "lb_console_session"


@dataclass(frozen=True)
class Session:
    operator: str
    csrf_token: str
    expires_at: datetime


def signing_key(session_secret: str | None, admin_token: str) -> bytes:
    """The configured secret, or one derived from the admin token (a new token ends sessions)."""
    if session_secret:
        return session_secret.encode()
    return hmac.new(admin_token.encode(), b"ledgerbridge console sessions", "sha256").digest()


def _sign(key: bytes, session_id: str) -> str:
    return hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def cookie_value(key: bytes, session_id: str) -> str:
    return f"{session_id}.{_sign(key, session_id)}"


def session_id_from_cookie(key: bytes, value: str | None) -> str | None:
    """The session id when the cookie's signature is ours; None for anything else."""
    if not value or "." not in value:
        return None
    session_id, signature = value.rsplit(".", 1)
    if not hmac.compare_digest(signature, _sign(key, session_id)):
        return None
    return session_id


class SessionStore:
    def __init__(self, db: Database, lifetime: timedelta) -> None:
        self.db = db
        self.lifetime = lifetime

    async def start(self, operator: str) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        row = ConsoleSession(
            id_hash=_id_hash(session_id),
            operator=operator,
            csrf_token=secrets.token_urlsafe(32),
            expires_at=utcnow() + self.lifetime,
        )
        async with self.db.transaction() as session:
            # Ended and expired sessions are of no use to anyone: drop them as we go.
            await session.exec(
                delete(ConsoleSession).where(col(ConsoleSession.expires_at) < utcnow())
            )
            session.add(row)
        return session_id, Session(row.operator, row.csrf_token, row.expires_at)

    async def find(self, session_id: str) -> Session | None:
        async with self.db.session() as session:
            row = await session.get(ConsoleSession, _id_hash(session_id))
        if row is None or row.expires_at <= utcnow():
            return None
        return Session(row.operator, row.csrf_token, row.expires_at)

    async def end(self, session_id: str) -> None:
        async with self.db.transaction() as session:
            await session.exec(
                delete(ConsoleSession).where(col(ConsoleSession.id_hash) == _id_hash(session_id))
            )
