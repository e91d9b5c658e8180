"""`uow.progress` (lb_common/unit_of_work.py): the steps one transaction reports for one order go
to ingest as one `order.progress`, in order, each with its own time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlmodel import col, select

from lb_common.db import Database
from lb_common.envelope import Envelope
from lb_common.events import OrderCancelled, OrderProgress
from lb_common.outbox import OutboxMessage
from lb_common.runtime import COMMON_TABLES
from lb_common.unit_of_work import BatchedUnitOfWork, DatabaseUnitOfWork, MessageRows

KEY = "shopify:s:1"


@pytest.fixture
async def db(store) -> AsyncIterator[Database]:
    database = Database(await store.url("uow"))
    await database.create_tables(COMMON_TABLES)
    yield database
    await database.dispose()


def _incoming() -> Envelope:
    return Envelope.wrap(OrderCancelled(order_key=KEY), connection="c", order_key=KEY)


async def _sent(db: Database) -> list[Envelope]:
    async with db.session() as session:
        rows = (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
    return [Envelope.from_bytes(row.body) for row in rows]


async def _report(uow: DatabaseUnitOfWork) -> None:
    async with uow.commit():
        uow.progress("invoice.drafted", "Draft 7.", {"draft_invoice_number": 7})
        uow.emit(OrderCancelled(order_key=KEY))
        uow.progress("invoice.progress", "Other order.", order_key="shopify:s:2")
        uow.progress("invoice.booked", "Booked 41.", {"booked_invoice_number": 41})


def _check(sent: list[Envelope]) -> None:
    assert [(e.type, e.order_key) for e in sent] == [
        ("order.progress", KEY), ("order.cancelled", KEY), ("order.progress", "shopify:s:2"),
    ]  # fmt: skip
    both = sent[0].parse(OrderProgress)
    assert (both.service, both.step, both.details) == (
        "invoicing", "invoice.drafted", {"draft_invoice_number": 7},
    )  # fmt: skip
    [booked] = both.more
    assert (booked.step, booked.message, booked.details) == (
        "invoice.booked", "Booked 41.", {"booked_invoice_number": 41},
    )  # fmt: skip
    assert sent[0].occurred_at <= booked.at  # each step keeps the time it was reported
    assert sent[2].parse(OrderProgress).more == ()


async def test_two_steps_for_one_order_in_one_transaction_are_one_message(db):
    await _report(DatabaseUnitOfWork(db, "invoicing", _incoming()))
    _check(await _sent(db))


async def test_in_a_batch_each_message_sends_its_own_steps(db):
    rows = MessageRows()
    async with db.transaction() as session:
        for _ in range(2):
            await _report(BatchedUnitOfWork(session, "invoicing", _incoming(), rows))
        await rows.write_in(db, session)
    sent = await _sent(db)
    assert len(sent) == 6
    _check(sent[:3])
    _check(sent[3:])
    assert sent[0].causation_id != sent[3].causation_id


async def test_steps_in_separate_transactions_are_separate_messages(db):
    uow = DatabaseUnitOfWork(db, "invoicing", _incoming())
    async with uow.transaction():
        uow.progress("invoice.drafted", "Draft 7.")
    async with uow.commit():
        uow.progress("invoice.booked", "Booked 41.")
    sent = await _sent(db)
    assert [e.parse(OrderProgress).step for e in sent] == ["invoice.drafted", "invoice.booked"]
    assert all(e.parse(OrderProgress).more == () for e in sent)


async def test_a_plain_core_commit_sends_the_steps_as_one_message_too(db):
    """`uow.commit_sync` (invoicing's booked outcome) merges the steps like `commit()`."""

    def report(connection: object) -> None:
        uow.progress("invoice.drafted", "Draft 7.", {"draft_invoice_number": 7})
        uow.emit(OrderCancelled(order_key=KEY))
        uow.progress("invoice.progress", "Other order.", order_key="shopify:s:2")
        uow.progress("invoice.booked", "Booked 41.", {"booked_invoice_number": 41})

    uow = DatabaseUnitOfWork(db, "invoicing", _incoming())
    await uow.commit_sync(report)
    _check(await _sent(db))
