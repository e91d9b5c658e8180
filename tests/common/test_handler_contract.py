"""The handler contract (lb_common/handlers.py, unit_of_work.py): handlers write through their
unit of work, which alone writes the inbox row, with the final commit."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from lb_common import inbox
from lb_common.db import Database
from lb_common.envelope import Envelope, Event
from lb_common.events import OrderCancelled
from lb_common.outbox import OutboxMessage
from lb_common.runtime import COMMON_TABLES
from lb_common.unit_of_work import DatabaseUnitOfWork
from scripts.service_parts import built_services

REPO = Path(__file__).resolve().parents[2]


def _imports_inbox(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.module == "lb_common.inbox":
                return True
            if node.module == "lb_common" and any(a.name == "inbox" for a in node.names):
                return True
        if isinstance(node, ast.Import) and any(a.name == "lb_common.inbox" for a in node.names):
            return True
    return False


def test_no_handler_module_imports_the_inbox():
    importing = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "services").rglob("*.py")
        if _imports_inbox(path)
    }
    assert importing == set(), (
        "only lb_common's unit of work and consumer write the inbox; a handler commits through "
        "`uow.commit()` (see docs/architecture.md, How to add a handler)"
    )
    common = {
        path.name for path in (REPO / "libs" / "common" / "lb_common").glob("*.py")
        if _imports_inbox(path)
    }  # fmt: skip
    # retention.py only deletes old inbox rows; it handles no message.
    allowed = {"unit_of_work.py", "handlers.py", "messaging.py", "migrations.py", "retention.py"}
    assert common <= allowed


def test_every_handler_takes_a_typed_event():
    with built_services() as services:
        old_shape = {
            (service.name, key)
            for service in services
            for key in service.parts.handlers
            if not (isinstance(key, type) and issubclass(key, Event))
        }
    assert old_shape == set()


@pytest.fixture
async def db(store) -> AsyncIterator[Database]:
    # On a SQLite file a block that touched nothing writes its rows on the loop's thread; in
    # PostgreSQL always in the session (unit_of_work.MessageRows): both ways are tested.
    database = Database(await store.url("uow"))
    await database.create_tables(COMMON_TABLES)
    yield database
    await database.dispose()


def _uow(db: Database) -> tuple[DatabaseUnitOfWork, Envelope]:
    envelope = Envelope.wrap(
        OrderCancelled(order_key="shopify:s:1"), connection="c", order_key="shopify:s:1"
    )
    return DatabaseUnitOfWork(db, "svc", envelope), envelope


async def _handled(db: Database, message_id: str) -> bool:
    async with db.session() as session:
        return await inbox.already_handled(session, "svc", message_id)


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        return list((await session.exec(select(OutboxMessage))).all())


async def test_commit_writes_the_effect_the_messages_and_the_inbox_row_together(db):
    uow, envelope = _uow(db)
    async with uow.transaction():
        uow.progress("intent", "about to call the ledger")
    assert not await _handled(db, envelope.message_id)
    async with uow.commit():
        uow.emit(OrderCancelled(order_key="shopify:s:1", reason="done"))
    assert await _handled(db, envelope.message_id)
    assert [row.routing_key for row in await _outbox(db)] == ["order.progress", "order.cancelled"]
    await uow.finish()  # nothing more: the commit recorded it


async def test_a_failed_commit_writes_nothing(db):
    uow, envelope = _uow(db)
    with pytest.raises(RuntimeError, match="effect failed"):
        async with uow.commit():
            uow.progress("booked", "booked")
            raise RuntimeError("effect failed")
    assert not await _handled(db, envelope.message_id)  # so the retry runs the handler again
    assert await _outbox(db) == []


async def test_rows_and_an_effect_written_through_the_session_commit_together(db):
    uow, envelope = _uow(db)
    async with uow.commit() as session:
        session.add(inbox.InboxEntry(consumer="effect", message_id="the effect"))
        uow.progress("booked", "booked")
    assert await _handled(db, envelope.message_id)
    assert [row.routing_key for row in await _outbox(db)] == ["order.progress"]
    async with db.session() as session:
        assert await inbox.already_handled(session, "effect", "the effect")


@pytest.mark.parametrize("touched", [False, True])
async def test_a_message_handled_twice_fails_its_commit_with_nothing_written(db, touched):
    first, envelope = _uow(db)
    await first.finish()
    again = DatabaseUnitOfWork(db, "svc", envelope)
    with pytest.raises(IntegrityError):  # the consumer reads it as a duplicate
        async with again.commit() as session:
            if touched:
                session.add(inbox.InboxEntry(consumer="effect", message_id="the effect"))
            again.progress("booked", "booked")
    assert await _outbox(db) == []
    async with db.session() as session:
        assert not await inbox.already_handled(session, "effect", "the effect")


async def test_a_handler_with_nothing_to_write_is_recorded_by_finish(db):
    uow, envelope = _uow(db)
    await uow.finish()
    assert await _handled(db, envelope.message_id)


async def test_nothing_is_written_after_the_final_commit_or_sent_outside_a_transaction(db):
    uow, _ = _uow(db)
    with pytest.raises(RuntimeError, match="a message is sent only with the transaction"):
        uow.progress("lost", "sent with no transaction to go with")
    async with uow.commit():
        with pytest.raises(RuntimeError, match="one transaction at a time"):
            async with uow.transaction():
                pass
    with pytest.raises(RuntimeError, match="already committed"):
        async with uow.transaction():
            pass
    assert await _outbox(db) == []
