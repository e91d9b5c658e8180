"""ingest's message handlers: every service reports an order's steps here, for its timeline and
its status (the state machine is order_status.py).

Several reports come in for every order, so they are written per transaction, not per message:
each handler only notes its report on the transaction (inside `uow.commit()`, so with its inbox
row), and just before the transaction commits (one message, or a batch of them: lb_common's
"Batches") every noted report is written at once: the orders' locks and rows with one statement
(order_repository.py), the timeline rows with one insert, the changed orders with one update
per set of changed columns. The reports are applied in the order their messages were handled.

An `order.progress` carries the steps one transaction of its service reported, in order (its
own, then `more`; lb_common/unit_of_work.py): each is a report of its own here, with its own
time, so the timeline and the status are what one message per step made them. The first step's
timeline row has the message's id, a further one the id and its place (`<id>/1`, ...): the
timeline's unique index on it keeps a redelivered message from adding them again.

Two reports on one order at once (replicas, prefetch) are serialised by the order's lock, taken
before anything is written, so neither overwrites the other's marks and progress never moves
backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lb_common.db import gathered_until_commit
from lb_common.events import OrderFailed, OrderProgress
from lb_common.handlers import batchable
from lb_common.unit_of_work import Incoming, UnitOfWork
from lb_ingest import order_status
from lb_ingest.order_repository import OrderRepository
from lb_ingest.order_status import OrderStatus
from lb_ingest.orders import Order
from lb_ingest.recorder import INSERT_TIMELINE
from lb_ingest.timeline import entry_row

# A service's parking lot reports that an operator sent a parked message back, or dismissed it
# (parking.py): either way its failure is behind it.
OPERATOR_STEPS = frozenset({"parked.retried", "parked.dismissed"})

#: Where a transaction keeps its reports until it commits (the session's `info`).
_REPORTS = "lb_ingest.reports"


@dataclass(frozen=True)
class _Report:
    event: OrderProgress | OrderFailed
    message: Incoming
    order_key: str
    at: datetime  # the step's own time (a message's further steps have theirs)
    entry_id: str  # the timeline row's message_id


# Both write only through uow.commit(), so the consumer may give several reports one
# transaction (lb_common/messaging.py, "Batches"): four reports come in for every order.
@batchable
async def handle_progress(event: OrderProgress, uow: UnitOfWork) -> None:
    await _note(event, uow)


@batchable
async def handle_failed(event: OrderFailed, uow: UnitOfWork) -> None:
    await _note(event, uow)


async def _note(report: OrderProgress | OrderFailed, uow: UnitOfWork) -> None:
    msg = uow.message
    if msg.order_key is None:
        return
    async with uow.commit() as session:
        reports = gathered_until_commit(session, _REPORTS, list, _write_reports)
        reports.append(_Report(report, msg, msg.order_key, msg.occurred_at, msg.message_id))
        if isinstance(report, OrderProgress):
            for n, step in enumerate(report.more, 1):
                # Built without validation: its fields were validated with the message.
                single = OrderProgress.model_construct(
                    service=report.service, step=step.step, message=step.message,
                    details=step.details,
                )  # fmt: skip
                reports.append(
                    _Report(single, msg, msg.order_key, step.at, f"{msg.message_id}/{n}")
                )


def _write_reports(session: Session, reports: list[_Report]) -> None:
    if not reports:
        return
    conn = session.connection()
    orders = OrderRepository(conn)
    # The locks first, in key order (order_repository.py), so two transactions with reports on
    # the same orders wait for each other instead of crossing on the timeline's unique index.
    stored = orders.get_many({r.order_key for r in reports}, lock=True)
    conn.execute(INSERT_TIMELINE, [_timeline_row(r) for r in reports])
    # Each order's state machine read once, carried through its reports in order.
    loaded: dict[str, OrderStatus] = {}
    states: dict[str, OrderStatus] = {}
    for report in reports:
        order = stored.get(report.order_key)
        if order is None:
            continue
        before = states.get(report.order_key)
        if before is None:
            before = loaded[report.order_key] = order.status_machine
        states[report.order_key] = _after(order, before, report)
    for key, after in states.items():
        stored[key].take_status(after, loaded[key])
    orders.save(stored[key] for key in states)


def _timeline_row(report: _Report) -> dict[str, Any]:
    event, msg = report.event, report.message
    if isinstance(event, OrderProgress):
        return entry_row(
            report.order_key,
            event.step,
            event.message,
            service=event.service,
            level="warning" if event.step == "retry" else "info",
            details=event.details,
            at=report.at,
            message_id=report.entry_id,
        )
    return entry_row(
        report.order_key,
        f"{event.service}.failed",
        event.reason,
        service=event.service,
        level="error",
        details={
            "detail": event.detail,
            "kind": event.kind,
            "step": event.step,
            "parked_message_id": msg.causation_id,
        },
        at=report.at,
        message_id=report.entry_id,
    )


def _after(order: Order, before: OrderStatus, report: _Report) -> OrderStatus:
    """Where the order stands after one report (and the numbers it carries, on `order`)."""
    event, msg = report.event, report.message
    at = report.at
    if isinstance(event, OrderFailed):
        return order_status.after_failure(
            before,
            service=event.service,
            message_type=event.step,
            message_id=msg.causation_id,
            reason=event.reason,
            at=at,
        )
    if "customer_number" in event.details:
        order.customer_number = int(event.details["customer_number"])
    if event.step in _INVOICE_STEPS and "booked_invoice_number" in event.details:
        order.invoice_number = int(event.details["booked_invoice_number"])
    if event.step in OPERATOR_STEPS:
        key = order_status.problem_key(
            event.service, str(event.details.get("message_type", "")), msg.causation_id
        )
        return order_status.close_problems(before, [key], at)
    return order_status.after_progress(
        before,
        service=event.service,
        step=event.step,
        details=event.details,
        at=at,
        caused_by=msg.causation_id,
    )


# A report of these steps carries the booked invoice's number (not a credit note's).
_INVOICE_STEPS = frozenset({"invoice.booked", "payment.registered"})
