"""The console over the whole system: the four services in-process (tests/support/system.py) and
the console's real app, served by uvicorn on a free loopback port for the browser, calling the
services through httpx ASGI transports (no ports to collide with on a shared machine)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from lb_console.bootstrap import ConsoleParts, bootstrap
from lb_console.settings import ConsoleSettings
from tests.support.stores import Store
from tests.support.system import System, running_system


@dataclass
class ConsoleStack:
    system: System
    parts: ConsoleParts
    url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def console_stack(
    amqp_url: str, broker_prefix: str, tmp_path: Path, store: Store
) -> AsyncIterator[ConsoleStack]:
    """On each store of `--stores` (the services' databases and the console's own)."""
    async with running_system(amqp_url, broker_prefix, tmp_path) as system:
        transports = {
            name: httpx.ASGITransport(app=runtime.parts.app_factory())
            for name, runtime in system.runtimes.items()
        }
        settings = ConsoleSettings(common=system.common, database_url=await store.url("console"))
        parts = bootstrap(settings, transports=transports)
        await parts.start()
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(parts.app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.05)
        try:
            yield ConsoleStack(system, parts, f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            await serving
            await parts.stop()
