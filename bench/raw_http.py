"""Bare HTTP/1.1 over keep-alive sockets, for posting webhooks from a bench: httpx cost as much
CPU per request as ingest itself, and the poster shares the machine with the stack it measures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

# uvicorn closes a keep-alive connection idle for 5 s (--timeout-keep-alive); older ones are
# dropped rather than risk a request the server never read.
IDLE_SECONDS = 4.0


def request_bytes(port: int, path: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """A POST of `body` to 127.0.0.1:`port``path`, with `headers` and Content-Length."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The status and body of one answer (Content-Length framed, as uvicorn sends them)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection without an answer")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


class KeepAlivePool:
    """Up to `size` keep-alive connections to 127.0.0.1:`port`, one request at a time on each."""

    def __init__(self, port: int, size: int) -> None:
        self.port = port
        self._idle: list[tuple[float, asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._free = asyncio.Semaphore(size)

    async def post(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        async with self._free:
            while self._idle and self._idle[0][0] < time.monotonic() - IDLE_SECONDS:
                self._idle.pop(0)[2].close()  # the longest idle first
            if self._idle:  # the most recently used: the others may expire unused
                _, reader, writer = self._idle.pop()
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                writer.write(request_bytes(self.port, path, headers, body))
                await writer.drain()
                answer = await read_response(reader)
            except BaseException:
                writer.close()
                raise
            self._idle.append((time.monotonic(), reader, writer))
            return answer

    async def close(self) -> None:
        while self._idle:
            self._idle.pop()[2].close()
