"""A service process started while RabbitMQ cannot be reached waits for it, and is ready once it
can: it does not exit for a supervisor to restart.

The broker is reached through a TCP proxy of the test's own, which first refuses (nothing
listens on its port), then drops every connection at once (a node still booting), and at last
forwards to the real RabbitMQ. The service is a real process (`python -m lb_customers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from lb_common.messaging import connect_backoff
from tests.support import services
from tests.support.broker import queue_depth

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BrokerProxy:
    """Listens on `port`; `forwarding` False drops each connection at once, True relays it to
    the real broker. `accepted` counts the connections that came."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port, self.target = port, target
        self.forwarding = False
        self.accepted = 0
        self._server: asyncio.Server | None = None

    async def listen(self) -> None:
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if not self.forwarding:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def wait_for_connections(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.accepted < count:
            assert time.monotonic() < deadline, f"only {self.accepted} tries reached the proxy"
            await asyncio.sleep(0.1)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _start_customers(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "lb_customers"], env=env, stdout=log, stderr=subprocess.STDOUT
        )


def test_connect_backoff_grows_to_a_cap() -> None:
    pauses = [connect_backoff(n) for n in range(1, 12)]
    assert 0.4 <= pauses[0] <= 0.5
    assert 0.8 <= pauses[1] <= 1.0
    assert all(12.0 <= p <= 15.0 for p in pauses[6:])


async def test_service_started_without_a_broker_waits_then_serves(
    tmp_path: Path, broker_prefix: str
) -> None:
    real = urlsplit(services.amqp_url())
    proxy_port, http_port = _free_port(), _free_port()
    proxy = BrokerProxy(proxy_port, (real.hostname or "127.0.0.1", real.port or 5672))
    log_path = tmp_path / "customers.log"
    env = {
        **os.environ,
        "LEDGERBRIDGE_AMQP_URL": services.amqp_url().replace(
            f"{real.hostname}:{real.port or 5672}", f"127.0.0.1:{proxy_port}"
        ),
        "LEDGERBRIDGE_BROKER_PREFIX": broker_prefix,
        "LEDGERBRIDGE_ADMIN_TOKEN": "test-token",
        "LEDGERBRIDGE_DATA_DIR": str(tmp_path / "data"),
        "LEDGERBRIDGE_CUSTOMERS_PORT": str(http_port),
        "LEDGERBRIDGE_CUSTOMERS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
        "LEDGERBRIDGE_LOG_JSON": "false",
    }
    process = _start_customers(env, log_path)
    try:
        # 1. Nothing listens: connection refused. The process keeps trying, and says so.
        # Generous deadlines: a busy machine starts a Python process slowly, and the pauses between
        # tries grow to 15 s.
        deadline = time.monotonic() + 120
        while log_path.read_text().count("RabbitMQ is not reachable") < 2:
            assert process.poll() is None, (
                f"exited with {process.returncode}:\n{log_path.read_text()}"
            )
            assert time.monotonic() < deadline, log_path.read_text()
            await asyncio.sleep(0.2)
        assert "Connection refused" in log_path.read_text()
        # 2. Something listens but drops the connection (a broker still booting).
        await proxy.listen()
        await proxy.wait_for_connections(2, timeout=120)
        assert process.poll() is None, log_path.read_text()
        assert not await asyncio.to_thread(_ready, http_port)
        # 3. The broker is back: the service connects by itself and becomes ready.
        proxy.forwarding = True
        deadline = time.monotonic() + 120
        while not await asyncio.to_thread(_ready, http_port):
            assert process.poll() is None, (
                f"exited with {process.returncode}:\n{log_path.read_text()}"
            )
            assert time.monotonic() < deadline, log_path.read_text()
            await asyncio.sleep(0.2)
        assert "connected to RabbitMQ after" in log_path.read_text()
        # It declared its queue on the real broker: it consumes.
        assert await queue_depth(services.amqp_url(), f"{broker_prefix}.customers") == 0
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        await proxy.close()
