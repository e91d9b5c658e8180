"""Runs one service process: admin API, consumers and outbox relay in one event loop.

Shutdown on SIGTERM/SIGINT: stop consuming, let in-flight messages finish, flush the outbox,
close the broker and the database, exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlmodel import SQLModel

from lb_common import leases, outbox, retention, tracing
from lb_common.db import Database
from lb_common.handlers import HandlerMap
from lb_common.messaging import Broker, Consumer
from lb_common.migrations import COMMON_TABLES, migrate
from lb_common.settings import CommonSettings
from lb_common.speedups import freeze_startup_objects

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
    #: Event class -> `handler(event, uow)` (lb_common/handlers.py).
    handlers: HandlerMap
    app_factory: Callable[[], FastAPI]
    #: Jobs the HTTP app needs (e.g. ingest's webhook writer): run in every role.
    request_jobs: list[BackgroundJob] = field(default_factory=list)
    #: Periodic and message work: run by roles `all` and `worker`, never by `web`.
    background: list[BackgroundJob] = field(default_factory=list)
    #: What the service may delete besides its outbox and inbox (lb_common/retention.py).
    prune_rules: list[retention.PruneRule] = field(default_factory=list)
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


class ServiceRuntime:
    def __init__(self, parts: ServiceParts) -> None:
        self.parts = parts
        self.role = parts.settings.role
        # A worker publishes what web processes commit, so it cannot be woken by its own
        # commits: it polls the outbox often instead (an indexed query on unpublished rows).
        self.relay = outbox.OutboxRelay(
            parts.db,
            parts.broker.publish_event,
            poll_interval=0.05 if self.role == "worker" else 1.0,
            holder=leases.new_holder(parts.name),
            service=parts.name,
        )
        # Outbox, inbox and the service's own rules; run where the relay runs (not `web`).
        self.pruner = retention.pruner(parts.db, parts.name, parts.settings, parts.prune_rules)
        self.consumer: Consumer | None = None
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Everything but the HTTP server (tests run services in-process this way)."""
        p = self.parts
        tracing.configure(p.name, p.settings)
        await migrate(p.db, p.migrations, p.tables)
        await p.broker.connect()
        for hook in p.on_start:
            await hook()
        handles_messages = self.role != "web"
        if p.handlers and handles_messages:
            self.consumer = Consumer(
                p.broker,
                p.db,
                service=p.name,
                handlers=p.handlers,
                retry=p.settings.retry_schedules(),
                delivery_limit=p.settings.delivery_limit,
                prefetch=p.settings.prefetch,
            )
            await self.consumer.declare()
            await self.consumer.start()
        jobs = [*p.request_jobs]
        if handles_messages:
            jobs += [self.relay.run, *p.background]
            if p.settings.retention_interval_seconds > 0:
                jobs.append(self.pruner.run)
        self._tasks += [asyncio.create_task(job(self.stopping)) for job in jobs]
        log.info("service started", extra={"data": {"role": self.role}})

    async def stop(self) -> None:
        self.stopping.set()
        if self.consumer is not None:
            await self.consumer.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=10)
        if self.role != "web":
            with contextlib.suppress(Exception):
                await self.relay.flush()
        await self.parts.broker.close()
        for hook in self.parts.on_stop:
            with contextlib.suppress(Exception):
                await hook()
        await self.parts.db.dispose()
        await tracing.shutdown()
        log.info("service stopped")

    async def serve(self, host: str, port: int) -> None:
        """Run until SIGTERM or SIGINT, then shut down cleanly."""
        await self.start()
        freeze_startup_objects()
        server = _QuietSignalsServer(
            uvicorn.Config(
                self.parts.app_factory(), host=host, port=port, log_config=None, access_log=False
            )
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._request_exit, server)
        try:
            await server.serve(sockets=[_listening_socket(host, port)])
        finally:
            await self.stop()

    def _request_exit(self, server: uvicorn.Server) -> None:
        log.info("shutdown requested")
        server.should_exit = True


def _listening_socket(host: str, port: int) -> socket.socket:
    """SO_REUSEPORT: several processes of a service (role `web`) listen on one port and the
    kernel spreads connections between them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class _QuietSignalsServer(uvicorn.Server):
    """uvicorn re-raises captured signals after serving, which would skip our clean shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield
