"""Retry schedules that fit the cause: the pure schedule, then the consumer on the real RabbitMQ
(per-cause budgets, logs and metrics of every retry and park, queue declarations that survive a
schedule change), then the whole system: one 503 stays inside the ledger client."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import IntegrityError

from lb_common.db import Database
from lb_common.envelope import Envelope
from lb_common.errors import Contention, TransientError
from lb_common.events import OrderCancelled
from lb_common.logging import JsonFormatter
from lb_common.messaging import Broker, Consumer
from lb_common.retry import RetrySchedules, describe_duration, parse_schedule
from lb_common.runtime import COMMON_TABLES
from lb_common.settings import CommonSettings
from lb_common.unit_of_work import UnitOfWork
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.broker import probe, queue_depth
from tests.support.system import running_system

FAST = RetrySchedules(
    {
        "contention": (100,) * 6,
        "ledger_unavailable": (150,),
        "rate_limited": (150, 300),
        "unexpected": (150,),
    }
)


def test_schedules_are_written_for_people() -> None:
    assert parse_schedule("500ms, 2s x3, 1min") == (500, 2000, 2000, 2000, 60_000)
    with pytest.raises(ValueError, match="'5 seconds'"):
        parse_schedule("1s, 5 seconds")


def test_default_time_to_park_per_cause_is_as_documented() -> None:
    schedules = CommonSettings().retry_schedules()
    documented = {
        "contention": "3 min",
        "ledger_unavailable": "1 h 3 min 50 s",
        "rate_limited": "24 min 35 s",
        "unexpected": "6 min 11 s",
    }
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for cause, total in documented.items():
        assert describe_duration(schedules.time_to_park_ms(cause)) == total  # type: ignore[arg-type]
        assert f"| `{cause}` |" in readme and f"| {total} |" in readme
    # Contention waits short and flat; an outage backs off.
    assert max(schedules.steps["contention"]) <= 5_000
    assert schedules.steps["ledger_unavailable"][-1] >= 30 * 60_000


def test_retry_after_lengthens_a_wait_to_a_step_of_the_schedule() -> None:
    plan = FAST.plan("rate_limited", 1, retry_after=0.2)
    assert plan is not None and plan.queue_delay_ms == 300
    assert 240 <= plan.delay_ms <= 300  # up to 20 % jitter, never longer than the queue
    exact = FAST.plan("rate_limited", 1, retry_after=0.3)
    assert exact is not None and exact.delay_ms == 300  # jitter never undercuts Retry-After
    assert FAST.plan("rate_limited", 3, retry_after=None) is None  # steps used up: park


def cancelled(order_key: str) -> Envelope:
    return Envelope.wrap(OrderCancelled(order_key=order_key), connection="c", order_key=order_key)


@pytest.fixture
async def db(sqlite_url) -> AsyncIterator[Database]:
    database = Database(sqlite_url("svc"))
    await database.create_tables(COMMON_TABLES)
    yield database
    await database.dispose()


@pytest.fixture
async def broker(amqp_url, broker_prefix) -> AsyncIterator[Broker]:
    connected = Broker(amqp_url, broker_prefix)
    await connected.connect()
    yield connected
    await connected.close()


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the consumer logs, as the JSON lines production writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("lb_common.messaging")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def _entries(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def _consume(broker: Broker, db: Database, handler, schedules=FAST) -> Consumer:
    consumer = Consumer(
        broker,
        db,
        service="svc",
        handlers={OrderCancelled: handler},
        retry=schedules,
        delivery_limit=5,
        prefetch=4,
    )
    await consumer.declare()
    await consumer.start()
    return consumer


def _count(metric: str, cause: str) -> float:
    labels = {"service": "svc", "type": "order.cancelled", "cause": cause, "connection": "c"}
    return REGISTRY.get_sample_value(metric, labels) or 0.0


async def test_each_cause_has_its_own_budget(broker, db, amqp_url, broker_prefix, log_lines):
    # Six contentions (one a database conflict) then an outage: the outage still gets its
    # own retry, although the message failed seven times in all.
    failures = [Contention("the customer is being created by another worker")] * 5
    failures += [IntegrityError("INSERT", {}, Exception("duplicate key")), TransientError("503")]
    attempts: list[float] = []
    loop = asyncio.get_running_loop()

    async def handler(event: OrderCancelled, uow: UnitOfWork) -> None:
        attempts.append(loop.time())
        if len(attempts) <= len(failures):
            raise failures[len(attempts) - 1]

    retried_before = _count("ledgerbridge_message_retries_total", "contention")
    async with probe(amqp_url, broker_prefix) as events:
        consumer = await _consume(broker, db, handler)
        await broker.publish_envelope(cancelled("shopify:s:budget"))
        for _ in range(200):
            if len(attempts) == 8:
                break
            await asyncio.sleep(0.05)
        await consumer.stop(timeout=5)
    assert len(attempts) == 8  # handled on the eighth try, never parked
    assert events.of_type("order.failed") == []
    assert await queue_depth(amqp_url, f"{broker_prefix}.svc.parked") == 0
    # Contention waits were the short flat ones (100 ms minus jitter, plus handling).
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert all(gap < 1.0 for gap in gaps[:6])
    assert _count("ledgerbridge_message_retries_total", "contention") == retried_before + 6

    retries = [e for e in _entries(log_lines) if e["msg"].startswith("retrying")]
    assert [e["cause"] for e in retries] == ["contention"] * 6 + ["ledger_unavailable"]
    assert all(e["order_key"] == "shopify:s:budget" for e in retries)
    assert retries[0]["reason"] == "the customer is being created by another worker"
    assert retries[5]["reason"] == "a database conflict"


async def test_a_park_is_logged_and_counted_with_its_cause(
    broker, db, amqp_url, broker_prefix, log_lines
):
    async def down(event: OrderCancelled, uow: UnitOfWork) -> None:
        raise TransientError("e-conomic failed while handling the customer (HTTP 503)")

    parked_before = _count("ledgerbridge_messages_parked_total", "ledger_unavailable")
    async with probe(amqp_url, broker_prefix) as events:
        consumer = await _consume(broker, db, down)
        await broker.publish_envelope(cancelled("shopify:s:parked"))
        failed = await events.wait_for("order.failed", timeout=10)
        await consumer.stop(timeout=5)
    assert "gave up after 2 attempts" in failed[0].payload["reason"]
    assert _count("ledgerbridge_messages_parked_total", "ledger_unavailable") == parked_before + 1
    [park] = [e for e in _entries(log_lines) if e["msg"].startswith("parking")]
    assert park["order_key"] == "shopify:s:parked" and park["cause"] == "ledger_unavailable"
    assert "HTTP 503" in park["reason"]


async def test_changing_a_schedule_declares_new_queues_instead_of_failing(broker, db):
    async def noop(event: OrderCancelled, uow: UnitOfWork) -> None:
        return None

    first = await _consume(broker, db, noop, RetrySchedules.uniform((1000, 5000)))
    await first.stop(timeout=5)
    # Another release with other delays (RabbitMQ refuses a queue redeclared with another TTL).
    second = await _consume(broker, db, noop, RetrySchedules.uniform((1000, 3000)))
    await second.stop(timeout=5)


async def test_one_503_does_not_reach_the_retry_queues(amqp_url, broker_prefix, tmp_path):
    async with running_system(amqp_url, broker_prefix, tmp_path) as system:
        async with system.sandbox() as sandbox:
            fault = {"kind": "error", "status": 503, "path": "/customers*", "times": 1}
            response = await sandbox.post(
                "/_sandbox/faults", json={**fault, "agreement": system.grant}
            )
            assert response.status_code == 201
            body = shopify_json(
                shopify_order(lines=[{"sku": "MUG-BLACK", "price": "60.00"}], email="one@x.dk")
            )
            key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
            order = await system.wait_for_status(key, "booked")
            [listed] = (await sandbox.get("/_sandbox/faults")).json()
    assert listed["fired"] == 1  # the ledger did answer 503 once
    steps = [entry["step"] for entry in order["timeline"]]
    assert "retry" not in steps, order["timeline"]
