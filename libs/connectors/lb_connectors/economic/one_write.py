"""A request in one write to the socket: the e-conomic client's connections hold what httpcore
writes (the request's head, then its body: two writes, two TCP segments, two wake-ups of the
other side) until the response is read, then send it as one.

Calls here are small JSON requests answered in full (HTTP/1.1, no `Expect: 100-continue`), so
nothing waits for a write to leave before the read that follows it. A failure to send shows
at that read, as the same `httpcore.WriteError` (a transport error: the call may have reached
e-conomic or not, as before). Speed only: what is sent is the same bytes.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream


class OneWriteStream(AsyncNetworkStream):
    """`stream`, with writes held until the next read (or TLS start)."""

    def __init__(self, stream: AsyncNetworkStream) -> None:
        self._stream = stream
        self._held: list[bytes] = []
        self._timeout: float | None = None

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            self._held.append(buffer)
            self._timeout = timeout

    async def _send_held(self) -> None:
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            await self._stream.write(data, self._timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await self._send_held()
        return await self._stream.read(max_bytes, timeout)

    async def aclose(self) -> None:
        self._held.clear()
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        await self._send_held()
        return OneWriteStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class OneWriteBackend(AsyncNetworkBackend):
    """`backend`'s connections as `OneWriteStream`s."""

    def __init__(self, backend: AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncNetworkStream:
        return OneWriteStream(
            await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> AsyncNetworkStream:
        return OneWriteStream(
            await self._backend.connect_unix_socket(path, timeout, socket_options)
        )

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def write_requests_whole(client: httpx.AsyncClient) -> None:
    """Make `client`'s own transport (the one it built: no proxy) send each request in one
    write. httpx offers no parameter for httpcore's network backend, so the pool's is wrapped;
    a transport of another shape (given by a test, a proxy's) is left as it is."""
    transport = getattr(client, "_transport", None)
    pool = getattr(transport, "_pool", None)
    if type(pool) is not httpcore.AsyncConnectionPool:
        return
    backend = getattr(pool, "_network_backend", None)
    if backend is not None and not isinstance(backend, OneWriteBackend):
        pool._network_backend = OneWriteBackend(backend)
