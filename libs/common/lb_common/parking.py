"""What failed for good, for an operator: list parked messages, send one back, or dismiss it.

RabbitMQ queues cannot be read at random, so each call walks the parking queue with basic.get,
acts on the wanted message and returns the others unchanged (nack with requeue).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from fastapi import APIRouter, HTTPException

from lb_common.messaging import ATTEMPT_HEADER, REASON_HEADER, Broker

SCAN_LIMIT = 1000


def _describe(message: AbstractIncomingMessage) -> dict[str, Any]:
    headers = message.headers or {}
    try:
        body: Any = json.loads(message.body)
    except ValueError:
        body = message.body.decode(errors="replace")
    return {
        "message_id": message.message_id,
        "type": message.type,
        "order_key": body.get("order_key") if isinstance(body, dict) else None,
        "reason": _text(headers.get(REASON_HEADER)),
        "attempts": headers.get(ATTEMPT_HEADER),
        "body": body,
    }


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class ParkingLot:
    def __init__(self, broker: Broker, service: str) -> None:
        self._broker = broker
        self._service = service

    async def _walk(
        self, act: Callable[[AbstractQueue, AbstractIncomingMessage], Awaitable[bool]]
    ) -> None:
        """Offer each parked message to `act`; a message it returns True for is consumed."""
        channel = await self._broker.connection.channel()
        try:
            queue = await channel.declare_queue(
                self._broker.topology.parking_queue(self._service),
                durable=True,
                arguments={"x-queue-type": "quorum"},
            )
            held: list[AbstractIncomingMessage] = []
            try:
                for _ in range(SCAN_LIMIT):
                    message = await queue.get(fail=False)
                    if message is None:
                        break
                    if await act(queue, message):
                        await message.ack()
                        continue
                    held.append(message)
            finally:
                for message in held:
                    await message.nack(requeue=True)
        finally:
            await channel.close()

    async def list(self, limit: int = 100) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        async def collect(_: AbstractQueue, message: AbstractIncomingMessage) -> bool:
            if len(found) < limit:
                found.append(_describe(message))
            return False

        await self._walk(collect)
        return found

    async def retry(self, message_id: str) -> bool:
        """Send the message back to the service's work queue with a fresh retry budget."""
        done = False

        async def resend(_: AbstractQueue, message: AbstractIncomingMessage) -> bool:
            nonlocal done
            if done or message.message_id != message_id:
                return False
            headers = {
                k: v for k, v in (message.headers or {}).items() if k not in (ATTEMPT_HEADER,)
            }
            await self._broker.send_to_queue(
                self._broker.topology.work_queue(self._service), message, headers
            )
            done = True
            return True

        await self._walk(resend)
        return done

    async def dismiss(self, message_id: str) -> bool:
        done = False

        async def drop(_: AbstractQueue, message: AbstractIncomingMessage) -> bool:
            nonlocal done
            if done or message.message_id != message_id:
                return False
            done = True
            return True

        await self._walk(drop)
        return done


def parking_router(lot: ParkingLot) -> APIRouter:
    router = APIRouter(tags=["parked messages"])

    @router.get("/parked")
    async def list_parked(limit: int = 100) -> list[dict[str, Any]]:
        return await lot.list(limit)

    @router.post("/parked/{message_id}/retry", status_code=202)
    async def retry_parked(message_id: str) -> dict[str, Any]:
        if not await lot.retry(message_id):
            raise HTTPException(404, f"no parked message {message_id!r}")
        return {"retried": message_id}

    @router.delete("/parked/{message_id}")
    async def dismiss_parked(message_id: str) -> dict[str, Any]:
        if not await lot.dismiss(message_id):
            raise HTTPException(404, f"no parked message {message_id!r}")
        return {"dismissed": message_id}

    return router


__all__ = ["ParkingLot", "parking_router"]
