"""Broker helpers for tests: a probe queue that sees every event, and cleanup by prefix."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aio_pika

from lb_common.envelope import Envelope
from lb_common.settings import CommonSettings

SERVICES = ("ingest", "customers", "invoicing", "inventory", "svc", "other")
# Retry queues are named by their delay: the defaults, and every delay tests configure.
RETRY_DELAYS_MS = sorted(
    set(CommonSettings().retry_schedules().queue_delays())
    | {50, 100, 150, 200, 250, 300, 400, 500, 600, 1000, 1200, 2000, 3000, 5000}
)


async def delete_prefix(amqp_url: str, prefix: str, services: tuple[str, ...] = SERVICES) -> None:
    """Delete the exchange and every queue a test under `prefix` can have declared."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for service in services:
            base = f"{prefix}.{service}"
            retries = [f"{base}.retry.{ms}ms" for ms in RETRY_DELAYS_MS]
            retries += [f"{base}.retry.{i}" for i in range(10)]  # named by step before
            for queue in (base, f"{base}.parked", *retries):
                await channel.queue_delete(queue)
        await channel.exchange_delete(f"{prefix}.events")
    finally:
        await connection.close()


class Probe:
    """A private queue bound to every event type: what the services said to each other."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self._changed = asyncio.Event()

    def _add(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)
        self._changed.set()

    def of_type(self, type_: str) -> list[Envelope]:
        return [e for e in self.envelopes if e.type == type_]

    def about(self, type_: str, order_key: str) -> list[Envelope]:
        return [e for e in self.of_type(type_) if e.order_key == order_key]

    async def wait_for(
        self, type_: str, count: int = 1, timeout: float = 20.0, *, order_key: str | None = None
    ) -> list[Envelope]:
        """Wait until `count` events of the type (about the order, if named) have arrived."""

        def seen() -> list[Envelope]:
            return self.of_type(type_) if order_key is None else self.about(type_, order_key)

        async def _until() -> list[Envelope]:
            while len(seen()) < count:
                self._changed.clear()
                await self._changed.wait()
            return seen()

        return await asyncio.wait_for(_until(), timeout)


@contextlib.asynccontextmanager
async def probe(amqp_url: str, prefix: str) -> AsyncIterator[Probe]:
    connection = await aio_pika.connect(amqp_url)
    result = Probe()
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{prefix}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, "#")

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                result._add(Envelope.from_bytes(message.body))

        await queue.consume(on_message)
        yield result
    finally:
        await connection.close()


async def queue_depth(amqp_url: str, queue: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0
    finally:
        await connection.close()
