"""RabbitMQ messaging: one topic exchange, per-service quorum queues, delayed retry, parking.

Topology for a service `svc` under prefix `p`:

- `p.events`: the durable topic exchange; routing key = event type.
- `p.svc`: the service's work queue (quorum, with a delivery limit), bound to the event types it
  handles. Replicas of the service compete on it.
- `p.svc.retry.<delay>ms`: one queue per distinct retry delay (of all causes' schedules, see
  `retry.py`), each with that TTL; expired messages dead-letter back to `p.svc` through the
  default exchange, so a retry reaches only this service. Naming a queue by its delay keeps every
  declaration identical for the queue's whole life: changing a schedule declares new queues
  instead of redeclaring old ones with other arguments (which RabbitMQ refuses). Queues of an
  older release (`p.svc.retry.<i>`) still dead-letter to `p.svc`; they can be deleted once empty.
- `p.svc.parked`: what failed for good, kept for inspection and replay. The work queue also
  dead-letters here when a message exceeds the delivery limit (a consumer that keeps crashing).

Publishing uses publisher confirms and `mandatory`: a message no queue would take is an error,
not a silent loss. Events go out through the channel's aiormq channel with their AMQP
properties built directly (what aio-pika's Exchange.publish does, without its Message object),
or through Exchange.publish while the aio-pika instrumentation is installed (its publish span).

Batches: messages whose handler is `@batchable` (handlers.py) and that arrive while an earlier
batch is being written are handled together: one inbox look-up, one transaction with every
message's effect, outbox and inbox rows, then all are acked (one `multiple` ack when that
covers no other message still being handled). Nothing waits for a batch to fill:
a message that finds no batch being written starts one at once, so a batch holds what arrived
during the one before, at most the prefetch. A batch that fails for any reason is rolled back
and its messages are handled one at a time, with the usual retry and park outcomes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aio_pika
import aiormq.exceptions
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aiormq import spec
from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError

from lb_common import inbox, tracing
from lb_common.db import Database
from lb_common.envelope import Envelope
from lb_common.errors import Cause, PermanentError, TransientError
from lb_common.events import OrderFailed, OrderProgress
from lb_common.handlers import HandlerMap, Route, dispatch, dispatch_batched, routes
from lb_common.logging import log_context
from lb_common.metric_labels import NONE, connection_label, for_connection
from lb_common.metrics import MESSAGES_HANDLED, MESSAGES_PARKED, MESSAGES_RETRIED
from lb_common.retry import RetrySchedules, describe_duration, read_counts, write_counts
from lb_common.unit_of_work import MessageRows, NotBatchable

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-lb-attempt"  # failed attempts so far, all causes together
REASON_HEADER = "x-lb-reason"
CAUSE_HEADER = "x-lb-cause"  # the cause of the last failure
# Failed attempts per cause ("contention=2;rate_limited=1"); read only together with
# ATTEMPT_HEADER, so a message sent back from parking without it starts a fresh budget.
CAUSE_COUNTS_HEADER = "x-lb-attempts-by-cause"
_PERSISTENT = int(aio_pika.DeliveryMode.PERSISTENT)


#: Pauses between tries to reach the broker at start: 0.5 s doubling up to 15 s, jittered.
CONNECT_FIRST_PAUSE_S = 0.5
CONNECT_MAX_PAUSE_S = 15.0
# RabbitMQ closes the handshake the same way for wrong credentials as for a node still booting.
_AUTH_HINT = "; if it persists, check the user and password in LEDGERBRIDGE_AMQP_URL"
_REFUSED_LOGIN = (
    aiormq.exceptions.AuthenticationError,
    aiormq.exceptions.ProbableAuthenticationError,
)


def connect_backoff(attempt: int) -> float:
    """The pause after the `attempt`-th failed try (1-based), up to 20 % shorter (jitter)."""
    pause = min(CONNECT_FIRST_PAUSE_S * 2 ** (attempt - 1), CONNECT_MAX_PAUSE_S)
    return pause * random.uniform(0.8, 1.0)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


@dataclass(frozen=True)
class Topology:
    prefix: str

    @property
    def exchange(self) -> str:
        return f"{self.prefix}.events"

    def work_queue(self, service: str) -> str:
        return f"{self.prefix}.{service}"

    def retry_queue(self, service: str, delay_ms: int) -> str:
        return f"{self.prefix}.{service}.retry.{delay_ms}ms"

    def parking_queue(self, service: str) -> str:
        return f"{self.prefix}.{service}.parked"


class Broker:
    """One robust connection per process; a confirming channel for publishing."""

    def __init__(self, amqp_url: str, prefix: str) -> None:
        self._url = amqp_url
        self.topology = Topology(prefix)
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._publish_lock = asyncio.Lock()

    @property
    def connection(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise RuntimeError("broker is not connected")
        return self._connection

    async def connect(self) -> None:
        """Connect, waiting for the broker as long as it takes.

        A process may start while RabbitMQ is down or still booting (a host reboot, a broker
        restart): it waits and tries again with growing pauses, logging each failed try, rather
        than exiting for a supervisor to restart. Once connected, the robust connection
        reconnects by itself."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._connect_once()
                break
            # StopAsyncIteration: aiormq's frame reader ends that way when the peer drops the
            # connection in the middle of the handshake (a broker still booting).
            except (OSError, TimeoutError, StopAsyncIteration, aiormq.exceptions.AMQPError) as exc:
                await self._discard_connection()
                pause = connect_backoff(attempt)
                log.warning(
                    "RabbitMQ is not reachable (%s); trying again in %.1f s (attempt %d)%s",
                    _describe(exc),
                    pause,
                    attempt,
                    _AUTH_HINT if isinstance(exc, _REFUSED_LOGIN) else "",
                    extra={"data": {"attempt": attempt, "pause_s": round(pause, 2)}},
                )
                await asyncio.sleep(pause)
        if attempt > 1:
            log.info("connected to RabbitMQ after %d attempts", attempt)

    async def _connect_once(self) -> None:
        self._connection = await aio_pika.connect_robust(self._url, timeout=10)
        self._publish_channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self._exchange = await self._publish_channel.declare_exchange(
            self.topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )

    async def _discard_connection(self) -> None:
        connection, self._connection = self._connection, None
        self._publish_channel = self._exchange = None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    @property
    def is_open(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    async def ping(self) -> None:
        """Readiness check: raises when the connection is down."""
        if not self.is_open:
            raise ConnectionError("broker connection is closed")

    async def messages_waiting(self, queue: str) -> int | None:
        """How many messages `queue` holds ready for its consumers; None when the broker or
        the queue is not there. A passive declare on a channel of its own, closed again."""
        if not self.is_open:
            return None
        try:
            channel = await self.connection.channel(publisher_confirms=False)
        except (aiormq.exceptions.AMQPError, OSError, RuntimeError):
            return None
        try:
            declared = await channel.declare_queue(queue, passive=True, timeout=10)
            return declared.declaration_result.message_count
        except (aiormq.exceptions.AMQPError, OSError, TimeoutError):
            return None  # not declared yet (its service never started), or the broker went away
        finally:
            if not channel.is_closed:
                with contextlib.suppress(Exception):
                    await channel.close()

    async def publish_event(
        self,
        routing_key: str,
        body: bytes,
        message_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Publish to the events exchange; returns once the broker confirmed it."""
        if self._exchange is None:
            raise RuntimeError("broker is not connected")
        if tracing.instrumented():
            # Through aio-pika's Exchange.publish, which the instrumentation wraps for its
            # publish span, in the trace the message was written in (an outbox row's own).
            message = aio_pika.Message(
                body,
                message_id=message_id,
                type=routing_key,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers=dict(headers or {}),
            )
            with tracing.publishing(headers):
                await self._exchange.publish(message, routing_key, mandatory=True, timeout=10)
            return
        await self._basic_publish(
            self._exchange.name,
            routing_key,
            body,
            spec.Basic.Properties(
                content_type="application/json",
                delivery_mode=_PERSISTENT,
                headers=dict(headers or {}),
                message_id=message_id,
                message_type=routing_key,
                priority=0,
            ),
        )

    async def _basic_publish(
        self, exchange: str, routing_key: str, body: bytes, properties: spec.Basic.Properties
    ) -> None:
        """What aio-pika's Exchange.publish does for us, without its Message object (about
        20 attribute sets per message, then turned into these same properties): publish on
        the confirming channel, mandatory, and wait for the broker's confirm. A nack raises
        DeliveryError, an unroutable message PublishError (the channel's on_return_raises)."""
        channel = self._publish_channel
        if channel is None:
            raise RuntimeError("broker is not connected")
        if channel.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError(f"{channel!r} closed")
        underlay = await channel.get_underlay_channel()
        await underlay.basic_publish(
            body,
            exchange=exchange,
            routing_key=routing_key,
            properties=properties,
            mandatory=True,
            timeout=10,
        )

    async def publish_envelope(self, envelope: Envelope) -> None:
        await self.publish_event(
            envelope.type,
            envelope.to_bytes(),
            envelope.message_id,
            tracing.message_headers(f"emit {envelope.type}"),
        )

    async def send_to_queue(
        self,
        queue: str,
        message: AbstractIncomingMessage,
        headers: dict[str, Any],
        *,
        expiration_ms: int | None = None,
    ) -> None:
        """Re-publish a received message to one queue (retry or parking), confirmed."""
        if self._publish_channel is None:
            raise RuntimeError("broker is not connected")
        copy = aio_pika.Message(
            message.body,
            message_id=message.message_id,
            type=message.type,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers=headers,
            expiration=expiration_ms / 1000 if expiration_ms else None,
        )
        await self._publish_channel.default_exchange.publish(
            copy, routing_key=queue, mandatory=True, timeout=10
        )


@dataclass
class _Waiting:
    """A message of a batchable type, waiting for its batch."""

    message: AbstractIncomingMessage
    envelope: Envelope
    route: Route
    done: asyncio.Future[None]


class Consumer:
    """Consumes a service's work queue and routes each message to its handler.

    Outcomes: success → ack. TransientError (its `cause`), a database conflict (contention) or
    an unexpected exception → copy to the retry queue of that cause's next step, emit
    `order.progress`, ack; when that cause's steps are used up → park. PermanentError → park at
    once and emit `order.failed` with the reason. Every retry and park is logged (with the order
    key) and counted by cause. Ack always comes after the copy is confirmed, so a crash in
    between redelivers rather than loses.
    """

    def __init__(
        self,
        broker: Broker,
        db: Database,
        *,
        service: str,
        handlers: HandlerMap,
        retry: RetrySchedules,
        delivery_limit: int,
        prefetch: int,
    ) -> None:
        self._broker = broker
        self._db = db
        self._service = service
        self._handlers = routes(handlers)  # by routing key
        self._retry = retry
        self._delivery_limit = delivery_limit
        self._prefetch = prefetch
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._in_flight = 0
        # Copies of one message arriving together are handled one after the other, so the
        # second finds the first's inbox entry (across replicas the primary key does this).
        self._ids_in_flight: dict[str, asyncio.Lock] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        # Batchable messages not yet in a batch, and whether one is being written (see Batches).
        self._waiting: list[_Waiting] = []
        self._batching = False
        # Delivery tags received on the consuming channel and not acked yet: a batch is acked
        # with one `multiple` ack only when that covers no other message (_ack_together).
        self._tags_channel: object | None = None
        self._unacked: set[int] = set()

    async def declare(self) -> None:
        """Declare this service's queues and bindings (idempotent; every replica does it)."""
        topo = self._broker.topology
        channel = await self._broker.connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=self._prefetch)
        exchange = await channel.declare_exchange(
            topo.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        parking = topo.parking_queue(self._service)
        await channel.declare_queue(parking, durable=True, arguments={"x-queue-type": "quorum"})
        work = topo.work_queue(self._service)
        queue = await channel.declare_queue(
            work,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": self._delivery_limit,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": parking,
            },
        )
        for delay in self._retry.queue_delays():
            # Quorum with at-least-once dead-lettering: a classic TTL queue dead-letters at most
            # once, and messages expiring while the broker restarted were lost (make chaos saw
            # it). At-least-once needs `reject-publish`; the publish is confirmed, so a refusal
            # is an error the consumer retries, never a silent drop.
            await channel.declare_queue(
                topo.retry_queue(self._service, delay),
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-message-ttl": delay,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": work,
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                },
            )
        for routing_key in self._handlers:
            await queue.bind(exchange, routing_key)
        self._channel = channel
        self._queue = queue

    async def start(self) -> None:
        if self._queue is None:
            await self.declare()
        assert self._queue is not None
        self._consumer_tag = await self._queue.consume(self._on_message)

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking new messages, then wait for the ones in flight to finish."""
        if self._queue is not None and self._consumer_tag is not None:
            try:
                await self._queue.cancel(self._consumer_tag)
            except Exception:  # the connection may already be gone; nothing left to cancel
                log.warning("could not cancel consumer cleanly", exc_info=True)
            self._consumer_tag = None
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("stopped with %d messages still in flight", self._in_flight)
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    def _count(self, metric: Counter, envelope: Envelope, what: str) -> None:
        metric.labels(
            self._service, envelope.type, what, connection_label(envelope.connection)
        ).inc()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._in_flight += 1
        self._idle.clear()
        channel = self._track(message)
        try:
            await self._process(message)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
            # Still unacked (its handling failed): it stays outstanding on the broker until
            # the channel closes, and keeps any `multiple` ack from covering it.
            if message.processed and channel is self._tags_channel:
                self._unacked.discard(message.delivery_tag or 0)

    def _track(self, message: AbstractIncomingMessage) -> object | None:
        try:
            channel: object = message.channel
        except aiormq.exceptions.ChannelInvalidStateError:
            return None
        if channel is not self._tags_channel:  # a new channel (reconnected): tags start anew
            self._tags_channel, self._unacked = channel, set()
        self._unacked.add(message.delivery_tag or 0)
        return channel

    async def _ack_together(self, messages: list[AbstractIncomingMessage]) -> None:
        """Ack `messages` (all handled) with one `multiple` ack of the last one when every
        message it would cover is one of them: one frame and one socket write instead of one
        per message. Otherwise (another message delivered before the last is still being
        handled, or some came on an older channel) one ack each."""
        last = max(messages, key=lambda m: m.delivery_tag or 0)
        tags = {m.delivery_tag or 0 for m in messages}
        try:
            channels = {id(m.channel) for m in messages}
        except aiormq.exceptions.ChannelInvalidStateError:
            channels = set()
        top = last.delivery_tag or 0
        if (
            len(messages) > 1
            and channels == {id(self._tags_channel)}
            and all(tag in tags for tag in self._unacked if tag <= top)
        ):
            await last.ack(multiple=True)
            self._unacked -= tags
            return
        for message in messages:
            await message.ack()

    async def _process(self, message: AbstractIncomingMessage) -> None:
        try:
            envelope = Envelope.from_bytes(message.body)
        except ValueError as exc:
            reason = f"unreadable message: {exc}"[:500]
            log.warning("parking an unreadable message: %s", reason)
            MESSAGES_PARKED.labels(
                self._service, message.type or "unknown", "unreadable", NONE
            ).inc()
            await self._park(message, reason)
            return
        handler = self._handlers.get(envelope.type)
        if handler is None:
            reason = f"no handler for message type {envelope.type!r}"
            with log_context(order_key=envelope.order_key, correlation_id=envelope.correlation_id):
                log.warning("parking: %s", reason)
            self._count(MESSAGES_PARKED, envelope, "no_handler")
            await self._park(message, reason)
            return
        if handler.batchable:
            await self._join_batch(message, envelope, handler)
            return
        lock = self._ids_in_flight.setdefault(envelope.message_id, asyncio.Lock())
        try:
            async with lock:
                await self._handle(message, envelope, handler)
        finally:
            if not lock.locked():
                self._ids_in_flight.pop(envelope.message_id, None)

    async def _join_batch(
        self, message: AbstractIncomingMessage, envelope: Envelope, route: Route
    ) -> None:
        """Wait for this message's batch; the first message to find none writing writes them."""
        waiting = _Waiting(message, envelope, route, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        if self._batching:
            await waiting.done
            return
        self._batching = True
        try:
            while self._waiting:
                batch = self._waiting[: self._prefetch]
                del self._waiting[: self._prefetch]
                try:
                    await self._handle_batch(batch)
                except Exception:
                    # As when one message's handling fails this way (the database or the broker
                    # went away): unacked, so redelivered; the batches after it still run.
                    log.exception("could not handle a batch of %d messages", len(batch))
                finally:
                    for each in batch:
                        if not each.done.done():
                            each.done.set_result(None)
        finally:
            self._batching = False
            # Cancelled (the channel is closing): what is left stays unacked and is redelivered.
            for each in self._waiting:
                if not each.done.done():
                    each.done.set_result(None)
            self._waiting.clear()

    async def _handle_batch(self, batch: list[_Waiting]) -> None:
        # A copy of a message already in the batch goes after it, on its own: it then finds
        # the first one's inbox row.
        first: dict[str, _Waiting] = {}
        copies: list[_Waiting] = []
        for each in batch:
            if each.envelope.message_id in first:
                copies.append(each)
            else:
                first[each.envelope.message_id] = each
        if len(first) == 1 and not copies:
            await self._handle(batch[0].message, batch[0].envelope, batch[0].route)
            return
        seen = await self._db.read_sync(
            functools.partial(inbox.handled_among, consumer=self._service, message_ids=list(first))
        )
        for message_id in seen:
            duplicate = first.pop(message_id)
            self._count(MESSAGES_HANDLED, duplicate.envelope, "duplicate")
            await duplicate.message.ack()
        todo = list(first.values())
        if todo:
            try:
                await self._write_batch(todo)
            except Exception as exc:
                # The whole batch is rolled back: each message once more, one at a time, where
                # a failure gets its own retry or park.
                level = logging.DEBUG if isinstance(exc, NotBatchable) else logging.INFO
                log.log(level, "a batch of %d messages failed; handling them one at a time",
                        len(todo), exc_info=True)  # fmt: skip
                for each in todo:
                    await self._handle(each.message, each.envelope, each.route)
            else:
                for each in todo:
                    self._count(MESSAGES_HANDLED, each.envelope, "ok")
                await self._ack_together([each.message for each in todo])
                for each in todo:
                    self._log_handled(each.envelope)
        for each in copies:
            await self._handle(each.message, each.envelope, each.route)

    async def _write_batch(self, batch: list[_Waiting]) -> None:
        """Every message's handler in one transaction; committed only if all succeed."""
        rows = MessageRows()
        async with self._db.transaction() as session:
            for each in batch:
                envelope = each.envelope
                with (
                    tracing.handling(
                        each.message.headers,
                        f"{self._service} handle {envelope.type}",
                        functools.partial(self._span_attributes, envelope),
                    ),
                    log_context(
                        order_key=envelope.order_key, correlation_id=envelope.correlation_id
                    ),
                    for_connection(envelope.connection),
                ):
                    await dispatch_batched(each.route, envelope, session, self._service, rows)
            await rows.write_in(self._db, session)

    def _span_attributes(self, envelope: Envelope) -> dict[str, str]:
        return {
            "ledgerbridge.service": self._service,
            "ledgerbridge.order_key": envelope.order_key or "",
            "messaging.message.id": envelope.message_id,
        }

    async def _handle(
        self, message: AbstractIncomingMessage, envelope: Envelope, handler: Route
    ) -> None:
        with tracing.handling(
            message.headers,
            f"{self._service} handle {envelope.type}",
            functools.partial(self._span_attributes, envelope),
        ):
            await self._handle_in_trace(message, envelope, handler)

    async def _handle_in_trace(
        self, message: AbstractIncomingMessage, envelope: Envelope, handler: Route
    ) -> None:
        with (
            log_context(order_key=envelope.order_key, correlation_id=envelope.correlation_id),
            for_connection(envelope.connection),
        ):
            if await self._seen(envelope):
                self._count(MESSAGES_HANDLED, envelope, "duplicate")
                await message.ack()
                return
            try:
                # The typed event and a unit of work that commits the inbox row (handlers.py).
                await dispatch(handler, envelope, self._db, self._service)
            except PermanentError as exc:
                await self._fail(message, envelope, exc.reason, exc.detail, "permanent")
                return
            except TransientError as exc:
                await self._retry_or_park(message, envelope, exc.reason, exc.cause, exc.retry_after)
                return
            except IntegrityError:
                if await self._seen(envelope):  # another replica handled it first
                    self._count(MESSAGES_HANDLED, envelope, "duplicate")
                    await message.ack()
                    return
                # Another worker wrote the same row first: it clears in moments.
                log.info("database conflict while handling %s", envelope.type, exc_info=True)
                await self._retry_or_park(
                    message, envelope, "a database conflict", "contention", None
                )
                return
            except Exception as exc:  # a bug or an unexpected outage: retry, then park
                log.exception("unexpected error while handling %s", envelope.type)
                reason = f"unexpected error in {self._service}: {type(exc).__name__}"
                await self._retry_or_park(message, envelope, reason, "unexpected", None)
                return
            self._count(MESSAGES_HANDLED, envelope, "ok")
            await message.ack()
            self._log_handled(envelope)

    def _log_handled(self, envelope: Envelope) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        with log_context(order_key=envelope.order_key, correlation_id=envelope.correlation_id):
            log.info(
                "handled %s",
                envelope.type,
                extra={"data": {"message_id": envelope.message_id, "type": envelope.type}},
            )

    async def _seen(self, envelope: Envelope) -> bool:
        handled = await self._db.read_sync(
            functools.partial(
                inbox.handled_among, consumer=self._service, message_ids=[envelope.message_id]
            )
        )
        return bool(handled)

    async def _retry_or_park(
        self,
        message: AbstractIncomingMessage,
        envelope: Envelope,
        reason: str,
        cause: Cause,
        retry_after: float | None,
    ) -> None:
        previous = _header(message, ATTEMPT_HEADER)
        attempt = int(previous or 0) + 1
        counts = read_counts(_header(message, CAUSE_COUNTS_HEADER)) if previous else {}
        counts[cause] = counts.get(cause, 0) + 1
        plan = self._retry.plan(cause, counts[cause], retry_after)
        if plan is None:
            await self._fail(
                message,
                envelope,
                f"{reason} (gave up after {attempt} attempts)",
                None,
                "transient_exhausted",
                cause=cause,
                headers={ATTEMPT_HEADER: attempt, CAUSE_COUNTS_HEADER: write_counts(counts)},
            )
            return
        headers = {
            **(message.headers or {}),
            ATTEMPT_HEADER: attempt,
            REASON_HEADER: reason,
            CAUSE_HEADER: cause,
            CAUSE_COUNTS_HEADER: write_counts(counts),
        }
        await self._broker.send_to_queue(
            self._broker.topology.retry_queue(self._service, plan.queue_delay_ms),
            message,
            headers,
            expiration_ms=plan.delay_ms,
        )
        self._count(MESSAGES_HANDLED, envelope, "retry")
        self._count(MESSAGES_RETRIED, envelope, cause)
        log.warning(
            "retrying %s in %s (%s, attempt %d): %s",
            envelope.type,
            describe_duration(plan.delay_ms),
            cause,
            attempt,
            reason,
            extra={
                "data": {
                    "type": envelope.type,
                    "message_id": envelope.message_id,
                    "cause": cause,
                    "attempt": attempt,
                    "cause_attempt": counts[cause],
                    "delay_ms": plan.delay_ms,
                    "reason": reason,
                }
            },
        )
        await self._emit(
            Envelope.wrap(
                OrderProgress(
                    service=self._service,
                    step="retry",
                    message=f"{reason}; trying again in {describe_duration(plan.delay_ms)} "
                    f"(attempt {attempt})",
                    details={"attempt": attempt, "delay_ms": plan.delay_ms, "cause": cause},
                ),
                connection=envelope.connection,
                order_key=envelope.order_key,
                caused_by=envelope,
            )
        )
        await message.ack()

    async def _fail(
        self,
        message: AbstractIncomingMessage,
        envelope: Envelope,
        reason: str,
        detail: str | None,
        kind: Literal["permanent", "transient_exhausted"],
        *,
        cause: str = "permanent",
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        self._count(MESSAGES_HANDLED, envelope, "parked")
        self._count(MESSAGES_PARKED, envelope, cause)
        log.warning(
            "parking %s (%s): %s",
            envelope.type,
            cause,
            reason,
            extra={
                "data": {
                    "type": envelope.type,
                    "message_id": envelope.message_id,
                    "cause": cause,
                    "reason": reason,
                }
            },
        )
        await self._park(message, reason, {CAUSE_HEADER: cause, **(headers or {})})
        await self._emit(
            Envelope.wrap(
                OrderFailed(
                    service=self._service,
                    step=envelope.type,
                    reason=reason,
                    detail=detail,
                    kind=kind,
                ),
                connection=envelope.connection,
                order_key=envelope.order_key,
                caused_by=envelope,
            )
        )

    async def _park(
        self,
        message: AbstractIncomingMessage,
        reason: str,
        extra_headers: Mapping[str, Any] | None = None,
    ) -> None:
        # The attempt that failed last: earlier failed attempts went through the retry path,
        # which counted them in the same header. GET /parked shows it.
        attempts = int(_header(message, ATTEMPT_HEADER) or 0) + 1
        headers = {
            **(message.headers or {}),
            ATTEMPT_HEADER: attempts,
            **(extra_headers or {}),
            REASON_HEADER: reason,
        }
        await self._broker.send_to_queue(
            self._broker.topology.parking_queue(self._service), message, headers
        )
        await message.ack()

    async def _emit(self, envelope: Envelope) -> None:
        # Timeline events about a failure are published directly: there is no state change to
        # pair them with, and the message is only acked after this is confirmed.
        if envelope.order_key is None:
            return
        try:
            await self._broker.publish_envelope(envelope)
        except Exception:
            log.warning("could not publish %s for the timeline", envelope.type, exc_info=True)


def _header(message: AbstractIncomingMessage, name: str) -> str | None:
    value = (message.headers or {}).get(name)
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
