"""ingest's handling of the other services' reports (consumers.py), on SQLite and PostgreSQL: a
batch of reports in one transaction leaves the orders and their timelines exactly as the same
reports one transaction each do, and a report handled twice changes nothing."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from lb_common.db import Database
from lb_common.envelope import Envelope, Event
from lb_common.events import OrderFailed, OrderProgress, ProgressStep
from lb_common.handlers import dispatch, dispatch_batched, routes
from lb_common.sealing import DEVELOPMENT_KEY, SecretBox
from lb_connectors.platforms.registry import get_adapter
from lb_ingest import consumers
from lb_ingest.arrival import Arrival
from lb_ingest.connections import ConnectionCache
from lb_ingest.fast_path.writer import _store_batch
from lb_ingest.reading import read_arrival
from lb_ingest.store import TimelineEntry
from tests.platforms.factories import shopify_headers, shopify_json, shopify_order
from tests.support.stores import Store
from tests.support.system import running_system

DEV_BOX = SecretBox([DEVELOPMENT_KEY])
ROUTES = routes({OrderProgress: consumers.handle_progress, OrderFailed: consumers.handle_failed})
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def ingest_db(store: Store, amqp_url, broker_prefix, tmp_path) -> AsyncIterator[Database]:
    """ingest's database (made by ingest itself, with its demo connection) and two stored,
    transferred orders."""
    async with running_system(amqp_url, broker_prefix, tmp_path, "ingest"):
        pass
    db = Database(await store.url("ingest"))
    try:
        for order_id in (1001, 1002):
            arrival = await _arrival(db, order_id)
            await db.write_sync(functools.partial(_store_batch, arrivals=[arrival], defer=False))
        yield db
    finally:
        await db.dispose()


async def _arrival(db: Database, order_id: int) -> Arrival:
    shop_connection = await ConnectionCache(db, DEV_BOX).get("demo")
    assert shop_connection is not None
    adapter = get_adapter("shopify")
    body = shopify_json(shopify_order(id=order_id))
    info = adapter.delivery(shopify_headers("orders/paid", body, "unused"))
    arrival = read_arrival(adapter, shop_connection, info, body)
    assert isinstance(arrival, Arrival) and arrival.order is not None
    return arrival


async def _keys(db: Database) -> list[str]:
    async with db.session() as session:
        rows = await session.exec(text("SELECT order_key FROM orders ORDER BY order_id"))  # type: ignore[call-overload]
        return [key for (key,) in rows]


def _envelope(event: Event, key: str, minutes: int) -> Envelope:
    envelope = Envelope.wrap(event, connection="demo", order_key=key)
    return envelope.model_copy(update={"occurred_at": T0 + timedelta(minutes=minutes)})


def _reports(a: str, b: str) -> list[Envelope]:
    """Several reports per order, as they arrive in one batch: a failure and its recovery, an
    order ingest does not know, an operator closing a problem."""
    failed = OrderFailed(service="inventory", step="invoice.booked", reason="no such product")
    return [
        _envelope(OrderProgress(service="customers", step="customer.resolved",
                                message="Customer 7.", details={"customer_number": 7}), a, 1),
        _envelope(OrderFailed(service="invoicing", step="customer.resolved",
                              reason="the ledger said no", detail="HTTP 400"), a, 2),
        _envelope(OrderProgress(service="customers", step="customer.resolved",
                                message="Customer 8.", details={"customer_number": 8}), b, 2),
        _envelope(OrderProgress(service="customers", step="customer.resolved", message="?"),
                  "shopify:elsewhere.myshopify.com:1", 3),
        _envelope(OrderProgress(service="invoicing", step="invoice.booked", message="Booked 41.",
                                details={"booked_invoice_number": 41}), a, 4),
        _envelope(OrderProgress(service="invoicing", step="retry", message="Trying again."), b, 5),
        _envelope(failed, b, 6),
        _envelope(OrderProgress(service="inventory", step="parked.dismissed", message="Dismissed.",
                                details={"message_type": "invoice.booked"}), a, 7),
        _envelope(OrderProgress(service="inventory", step="stock.read", message="Stock read."),
                  a, 8),
    ]  # fmt: skip


async def _state(db: Database) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]], int]:
    """The orders (without the times they were written), the reports' timeline lines in id
    order, and how many inbox rows."""
    async with db.session() as session:
        orders = (
            await session.exec(  # type: ignore[call-overload]
                text(
                    "SELECT order_key, status, status_reason, progress, problems, needs_attention, "
                    "customer_number, invoice_number FROM orders ORDER BY order_key"
                )
            )
        ).all()
        timeline = (
            await session.exec(  # type: ignore[call-overload]
                text(
                    "SELECT order_key, service, step, message, level, details, message_id "
                    "FROM timeline WHERE message_id IS NOT NULL ORDER BY id"
                )
            )
        ).all()
        inbox = (await session.exec(text("SELECT count(*) FROM inbox"))).one()[0]  # type: ignore[call-overload]
    rows = []
    for order in orders:
        row = dict(order._mapping)
        if isinstance(row["problems"], str):
            row["problems"] = json.loads(row["problems"])
        row["needs_attention"] = bool(row["needs_attention"])
        rows.append(row)
    lines = [
        (*line[:5], line.details if isinstance(line.details, dict) else json.loads(line.details),
         line.message_id)
        for line in timeline
    ]  # fmt: skip
    return rows, lines, inbox


async def _one_by_one(db: Database, envelopes: list[Envelope]) -> None:
    for envelope in envelopes:
        await dispatch(ROUTES[envelope.type], envelope, db, "ingest")


async def _as_one_batch(db: Database, envelopes: list[Envelope]) -> None:
    async with db.transaction() as session:
        for envelope in envelopes:
            await dispatch_batched(ROUTES[envelope.type], envelope, session, "ingest")


async def test_a_batch_of_reports_does_what_the_reports_one_by_one_do(
    ingest_db: Database, store: Store, amqp_url, broker_prefix, tmp_path
):
    a, b = await _keys(ingest_db)
    envelopes = _reports(a, b)
    await _as_one_batch(ingest_db, envelopes)
    orders, timeline, inbox = await _state(ingest_db)

    by_key = {order["order_key"]: order for order in orders}
    assert by_key[a]["progress"] == by_key[a]["status"] == "booked", by_key[a]
    assert (by_key[a]["customer_number"], by_key[a]["invoice_number"]) == (7, 41)
    assert not by_key[a]["needs_attention"] and by_key[a]["status_reason"] is None
    assert set(by_key[a]["problems"]) == {"customers", "invoicing", "inventory"}
    assert by_key[b]["status"] == "failed" and by_key[b]["needs_attention"]
    assert by_key[b]["status_reason"] == "no such product"
    assert (by_key[b]["progress"], by_key[b]["customer_number"]) == ("customer_resolved", 8)
    assert [line[6] for line in timeline] == [e.message_id for e in envelopes]
    assert timeline[1][2:5] == ("invoicing.failed", "the ledger said no", "error")
    assert timeline[5][4] == "warning"  # a retry
    assert inbox == len(envelopes)

    # The same reports, one transaction each, in a second ingest: the same orders and lines.
    async with running_system(amqp_url, f"{broker_prefix}x", tmp_path / "other", "ingest",
                              store=_Other(store)):  # fmt: skip
        pass
    other = Database(await _Other(store).url("ingest"))
    try:
        for order_id in (1001, 1002):
            arrival = await _arrival(other, order_id)
            await other.write_sync(functools.partial(_store_batch, arrivals=[arrival], defer=False))
        await _one_by_one(other, envelopes)
        assert await _state(other) == (orders, timeline, inbox)
    finally:
        await other.dispose()


async def test_a_report_handled_again_changes_nothing(ingest_db: Database):
    """A copy that got past the consumer's inbox look-up (a replica handled it at the same
    moment) fails on its inbox row and timeline line, and its transaction writes nothing."""
    a, b = await _keys(ingest_db)
    first = _reports(a, b)[:3]
    await _as_one_batch(ingest_db, first)
    before = await _state(ingest_db)
    later = _envelope(
        OrderProgress(service="invoicing", step="invoice.booked", message="Booked 41.",
                      details={"booked_invoice_number": 41}), a, 9)  # fmt: skip
    with pytest.raises(IntegrityError):
        await _as_one_batch(ingest_db, [later, first[0]])
    with pytest.raises(IntegrityError):
        await _one_by_one(ingest_db, [first[1]])
    assert await _state(ingest_db) == before


async def test_a_report_alone_commits_with_its_inbox_row_or_not_at_all(
    ingest_db: Database, monkeypatch: pytest.MonkeyPatch
):
    """One report handled on its own (the handler writes only at its commit): when writing the
    report fails, its inbox row is not left behind saying it was handled, so the redelivery
    writes it."""
    a, b = await _keys(ingest_db)
    report = _reports(a, b)[0]
    before = await _state(ingest_db)

    def failing(_session: Any, _reports: Any) -> None:
        raise RuntimeError("the timeline could not be written")

    monkeypatch.setattr(consumers, "_write_reports", failing)
    with pytest.raises(RuntimeError):
        await _one_by_one(ingest_db, [report])
    assert await _state(ingest_db) == before

    monkeypatch.undo()
    await _one_by_one(ingest_db, [report])
    _, timeline, inbox = await _state(ingest_db)
    assert [line[6] for line in timeline] == [report.message_id]
    assert inbox == before[2] + 1


async def _times(db: Database, key: str) -> list[datetime]:
    async with db.session() as session:
        rows = await session.exec(
            select(TimelineEntry.at)
            .where(TimelineEntry.order_key == key, col(TimelineEntry.message_id).is_not(None))
            .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
        )
        return list(rows)


async def test_the_steps_of_one_message_are_what_one_message_each_made(ingest_db: Database):
    """invoicing drafts and books in one transaction and sends both steps as one message (`more`);
    a message from before `more` existed has one step. Order `a` gets the old shape, one message
    per step; order `b` the new: the same lines, times and status. A copy of the new message
    adds nothing."""
    a, b = await _keys(ingest_db)
    steps = [
        ("customers", "customer.resolved", "Customer 7.", {"customer_number": 7}, 1),
        ("invoicing", "invoice.drafted", "Draft 12.", {"draft_invoice_number": 12}, 2),
        ("invoicing", "invoice.booked", "Booked 41.", {"booked_invoice_number": 41}, 3),
        ("invoicing", "payment.registered", "Paid.", {"booked_invoice_number": 41}, 4),
    ]
    old = [
        _envelope(OrderProgress(service=service, step=step, message=message, details=details),
                  a, minute)
        for service, step, message, details, minute in steps
    ]  # fmt: skip
    await _one_by_one(ingest_db, old)
    _, drafted, booked, paid = steps
    together = _envelope(
        OrderProgress(
            service="invoicing", step=drafted[1], message=drafted[2], details=drafted[3],
            more=tuple(
                ProgressStep(step=step, message=message, details=details,
                             at=T0 + timedelta(minutes=minute))
                for _, step, message, details, minute in (booked, paid)
            ),
        ),
        b, drafted[4],
    )  # fmt: skip
    customer = old[0].model_copy(update={"message_id": "b's customer", "order_key": b})
    await _as_one_batch(ingest_db, [customer, together])

    orders, timeline, _ = await _state(ingest_db)
    by_key = {order.pop("order_key"): order for order in orders}
    assert by_key[b] == by_key[a]
    assert by_key[b]["status"] == "booked" and by_key[b]["invoice_number"] == 41
    lines = {key: [line[1:6] for line in timeline if line[0] == key] for key in (a, b)}
    assert lines[b] == lines[a] and [line[1] for line in lines[b]] == [s[1] for s in steps]
    assert (
        await _times(ingest_db, b)
        == await _times(ingest_db, a)
        == [T0 + timedelta(minutes=s[4]) for s in steps]
    )
    ids = [line[6] for line in timeline if line[0] == b]
    assert ids[1:] == [together.message_id, f"{together.message_id}/1",
                       f"{together.message_id}/2"]  # fmt: skip

    before = await _state(ingest_db)
    with pytest.raises(IntegrityError):
        await _one_by_one(ingest_db, [together])
    assert await _state(ingest_db) == before


class _Other(Store):
    """The test's store under other service names: a second, separate ingest database."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.kind = store.kind

    async def url(self, service: str) -> str:
        return await self._store.url(f"{service}_other")
