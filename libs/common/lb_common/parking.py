"""What failed for good, for an operator: list parked messages, send one back, or dismiss it.

RabbitMQ queues cannot be read at random, so each call walks the parking queue with basic.get,
acts on the wanted message and returns the others unchanged (nack with requeue).

Every retry and dismissal is reported to the order's timeline (`order.progress`, steps
`parked.retried` / `parked.dismissed`), so the order's status knows its failure is behind it.

A parked message can go stale: a replay may have finished the same step for the order since.
Each service knows that from its own records; a service that can tell passes `settled`, which
answers with a sentence when the message's work is done. The listing shows that sentence, and a
retry of such a message removes it instead of running the step again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse

from lb_common.admin_params import limit_query
from lb_common.envelope import Envelope
from lb_common.events import OrderProgress
from lb_common.messaging import ATTEMPT_HEADER, REASON_HEADER, Broker
from lb_common.openapi_links import Link, links_to

log = logging.getLogger(__name__)

SCAN_LIMIT = 1000
# aio-pika's default of 5 s per basic.get is too short for a broker under load (seen in a
# whole test run: a retry from the console answered 500); an operator can wait longer.
BROKER_TIMEOUT = 30.0

# The parked message's envelope → a sentence when its work was done since, else None.
SettledCheck = Callable[[Envelope], Awaitable[str | None]]


def _envelope(message: AbstractIncomingMessage) -> Envelope | None:
    try:
        return Envelope.from_bytes(message.body)
    except ValueError:
        return None


def _describe(message: AbstractIncomingMessage, settled: str | None) -> dict[str, Any]:
    headers = message.headers or {}
    try:
        body: Any = json.loads(message.body)
    except ValueError:
        body = message.body.decode(errors="replace")
    attempts = _text(headers.get(ATTEMPT_HEADER))
    return {
        "message_id": message.message_id,
        "type": message.type,
        "order_key": body.get("order_key") if isinstance(body, dict) else None,
        "reason": _text(headers.get(REASON_HEADER)),
        # How many times it was handled before it was parked (None: parked by RabbitMQ itself,
        # after the delivery limit, e.g. a consumer that kept crashing).
        "attempts": int(attempts) if attempts and attempts.isdigit() else None,
        "settled": settled,
        "body": body,
    }


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class RetryOutcome:
    found: bool
    settled: str | None = None  # set when the message was removed, its work being done


class ParkingLot:
    def __init__(self, broker: Broker, service: str, settled: SettledCheck | None = None) -> None:
        self._broker = broker
        self._service = service
        self._settled = settled

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
                    message = await queue.get(fail=False, timeout=BROKER_TIMEOUT)
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

    async def _settled_by(self, envelope: Envelope | None) -> str | None:
        if self._settled is None or envelope is None or envelope.order_key is None:
            return None
        try:
            return await self._settled(envelope)
        except Exception:  # the listing must work even when the check cannot
            log.warning("could not check whether a parked message is settled", exc_info=True)
            return None

    async def list(self, limit: int = 100) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        async def collect(_: AbstractQueue, message: AbstractIncomingMessage) -> bool:
            if len(found) < limit:
                settled = await self._settled_by(_envelope(message))
                found.append(_describe(message, settled))
            return False

        await self._walk(collect)
        return found

    async def retry(self, message_id: str) -> RetryOutcome:
        """Send the message back to the service's work queue with a fresh retry budget; a
        message whose work was done since is removed instead."""
        outcome = RetryOutcome(found=False)

        async def resend(_: AbstractQueue, message: AbstractIncomingMessage) -> bool:
            nonlocal outcome
            if outcome.found or message.message_id != message_id:
                return False
            envelope = _envelope(message)
            settled = await self._settled_by(envelope)
            if settled is not None:
                report = self._report(envelope, "parked.dismissed", f"Already done: {settled}")
                outcome = RetryOutcome(found=True, settled=settled)
                await self._publish(report)
                return True
            # Made before the message goes back: a new failure of it is later than this report.
            report = self._report(
                envelope,
                "parked.retried",
                f"Sent back to {self._service} by an operator "
                f"(it had stopped: {_text((message.headers or {}).get(REASON_HEADER))}).",
            )
            headers = {
                k: v for k, v in (message.headers or {}).items() if k not in (ATTEMPT_HEADER,)
            }
            await self._broker.send_to_queue(
                self._broker.topology.work_queue(self._service), message, headers
            )
            outcome = RetryOutcome(found=True)
            await self._publish(report)
            return True

        await self._walk(resend)
        return outcome

    async def dismiss(self, message_id: str) -> bool:
        done = False

        async def drop(_: AbstractQueue, message: AbstractIncomingMessage) -> bool:
            nonlocal done
            if done or message.message_id != message_id:
                return False
            done = True
            await self._publish(
                self._report(
                    _envelope(message),
                    "parked.dismissed",
                    "Dismissed by an operator: it will not be handled again.",
                )
            )
            return True

        await self._walk(drop)
        return done

    def _report(self, envelope: Envelope | None, step: str, text: str) -> Envelope | None:
        """The timeline entry for what an operator did with a parked message of an order."""
        if envelope is None or envelope.order_key is None:
            return None
        return Envelope.wrap(
            OrderProgress(
                service=self._service,
                step=step,
                message=f"Parked {envelope.type} message: {text}",
                details={"message_id": envelope.message_id, "message_type": envelope.type},
            ),
            connection=envelope.connection,
            order_key=envelope.order_key,
            caused_by=envelope,
        )

    async def _publish(self, report: Envelope | None) -> None:
        if report is None:
            return
        try:
            await self._broker.publish_envelope(report)
        except Exception:  # what the operator asked for is done; only its timeline line is lost
            log.warning("could not report %s to the timeline", report.type, exc_info=True)


def parking_router(lot: ParkingLot) -> APIRouter:
    router = APIRouter(tags=["parked messages"])

    _message = "$response.body#/0/message_id"

    @router.get(
        "/parked",
        responses=links_to(
            retry=Link("POST", "/parked/{message_id}/retry", message_id=_message),
            dismiss=Link("DELETE", "/parked/{message_id}", message_id=_message),
        ),
    )
    async def list_parked(limit: int = limit_query(100, SCAN_LIMIT)) -> list[dict[str, Any]]:
        """Parked messages; `settled` says when the message's work was done since (a replay)."""
        return await lot.list(limit)

    @router.post("/parked/{message_id}/retry", status_code=202, response_model=None)
    async def retry_parked(message_id: str) -> dict[str, Any] | JSONResponse:
        outcome = await lot.retry(message_id)
        if not outcome.found:
            raise HTTPException(404, f"no parked message {message_id!r}")
        if outcome.settled is not None:
            return JSONResponse(
                {"dismissed": message_id, "settled": outcome.settled}, status_code=200
            )
        return {"retried": message_id}

    @router.delete("/parked/{message_id}")
    async def dismiss_parked(message_id: str) -> dict[str, Any]:
        if not await lot.dismiss(message_id):
            raise HTTPException(404, f"no parked message {message_id!r}")
        return {"dismissed": message_id}

    return router


__all__ = ["ParkingLot", "RetryOutcome", "SettledCheck", "parking_router"]
