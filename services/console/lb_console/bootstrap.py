"""Composition root of the console."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from lb_common import tracing
from lb_common.db import Database
from lb_common.migrations import migrate
from lb_console.app import create_app
from lb_console.backend import Services
from lb_console.sessions import SessionStore, signing_key
from lb_console.settings import ConsoleSettings
from lb_console.store import TABLES
from lb_console.web import Console

SERVICE = "console"
MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass
class ConsoleParts:
    console: Console
    app: FastAPI
    settings: ConsoleSettings

    async def start(self) -> None:
        tracing.configure(SERVICE, self.settings.common)
        await migrate(self.console.db, MIGRATIONS, TABLES)

    async def stop(self) -> None:
        await self.console.services.aclose()
        await self.console.db.dispose()


def bootstrap(
    settings: ConsoleSettings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> ConsoleParts:
    """`transports`: per service, how to reach its admin API (tests: the in-process apps)."""
    settings = settings or ConsoleSettings()
    common = settings.common
    token = common.admin_token.get_secret_value() if common.admin_token else ""
    db = Database(settings.resolved_database_url(SERVICE))
    secret = settings.session_secret.get_secret_value() if settings.session_secret else None
    console = Console(
        db=db,
        services=Services(
            settings.service_urls(),
            token,
            timeout=settings.call_timeout_seconds,
            transports=transports,
        ),
        sessions=SessionStore(db, timedelta(hours=settings.session_hours)),
        signing_key=signing_key(secret, token),
        admin_token=token,
        secure_cookie=settings.secure_cookie,
        ledger_daily_calls=settings.ledger_daily_calls,
    )
    return ConsoleParts(console=console, app=create_app(console), settings=settings)
