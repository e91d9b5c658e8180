"""Runs one service process: admin API, consumers and outbox relay in one event loop.

Shutdown on SIGTERM/SIGINT: stop consuming, let in-flight messages finish, flush the outbox,
close the broker and the database, exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlmodel import SQLModel

from lb_common import outbox
from lb_common.db import Database
from lb_common.messaging import Broker, Consumer, Handler, RetryPolicy
from lb_common.migrations import COMMON_TABLES, migrate
from lb_common.settings import CommonSettings

log = logging.getLogger(__name__)

__all__ = ["COMMON_TABLES", "ServiceParts", "ServiceRuntime"]

BackgroundJob = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class ServiceParts:
    """What a composition root (`bootstrap.py`) hands to the runtime."""

    name: str
    settings: CommonSettings
    db: Database
    broker: Broker
    tables: Sequence[type[SQLModel]]
    #: The service's Alembic history (`lb_<service>/migrations`), upgraded to head at start.
    migrations: Path
    handlers: dict[str, Handler]
    app_factory: Callable[[], FastAPI]
    background: list[BackgroundJob] = field(default_factory=list)
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


class ServiceRuntime:
    def __init__(self, parts: ServiceParts) -> None:
        self.parts = parts
        self.relay = outbox.OutboxRelay(parts.db, parts.broker.publish_event)
        self.consumer: Consumer | None = None
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Everything but the HTTP server (tests run services in-process this way)."""
        p = self.parts
        await migrate(p.db, p.migrations, p.tables)
        await p.broker.connect()
        for hook in p.on_start:
            await hook()
        if p.handlers:
            self.consumer = Consumer(
                p.broker,
                p.db,
                service=p.name,
                handlers=p.handlers,
                retry=RetryPolicy(tuple(p.settings.retry_delays_ms)),
                delivery_limit=p.settings.delivery_limit,
                prefetch=p.settings.prefetch,
            )
            await self.consumer.declare()
            await self.consumer.start()
        self._tasks.append(asyncio.create_task(self.relay.run(self.stopping)))
        for job in p.background:
            self._tasks.append(asyncio.create_task(job(self.stopping)))
        log.info("service started")

    async def stop(self) -> None:
        self.stopping.set()
        if self.consumer is not None:
            await self.consumer.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=10)
        with contextlib.suppress(Exception):
            await self.relay.flush()
        await self.parts.broker.close()
        for hook in self.parts.on_stop:
            with contextlib.suppress(Exception):
                await hook()
        await self.parts.db.dispose()
        log.info("service stopped")

    async def serve(self, host: str, port: int) -> None:
        """Run until SIGTERM or SIGINT, then shut down cleanly."""
        await self.start()
        server = _QuietSignalsServer(
            uvicorn.Config(
                self.parts.app_factory(), host=host, port=port, log_config=None, access_log=False
            )
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._request_exit, server)
        try:
            await server.serve()
        finally:
            await self.stop()

    def _request_exit(self, server: uvicorn.Server) -> None:
        log.info("shutdown requested")
        server.should_exit = True


class _QuietSignalsServer(uvicorn.Server):
    """uvicorn re-raises captured signals after serving, which would skip our clean shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield
