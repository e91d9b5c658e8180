"""ingest's message handlers: every service reports an order's steps here, for its timeline and
its status (the state machine is order_status.py)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from lb_common.db import utcnow
from lb_common.events import OrderFailed, OrderProgress
from lb_common.unit_of_work import UnitOfWork
from lb_ingest import order_status
from lb_ingest.order_status import OrderStatus
from lb_ingest.store import Order
from lb_ingest.timeline import add_entry

# A service's parking lot reports that an operator sent a parked message back, or dismissed it
# (parking.py): either way its failure is behind it.
OPERATOR_STEPS = frozenset({"parked.retried", "parked.dismissed"})


async def handle_progress(event: OrderProgress, uow: UnitOfWork) -> None:
    msg = uow.message
    if msg.order_key is None:
        return
    async with uow.commit() as session:
        add_entry(
            session,
            msg.order_key,
            event.step,
            event.message,
            service=event.service,
            level="warning" if event.step == "retry" else "info",
            details=event.details,
            at=msg.occurred_at,
            message_id=msg.message_id,
        )
        order = await _locked(session, msg.order_key)
        if order is not None:
            before = _status_of(order)
            if event.step in OPERATOR_STEPS:
                key = order_status.problem_key(
                    event.service,
                    str(event.details.get("message_type", "")),
                    msg.causation_id,
                )
                after = order_status.close_problems(before, [key], msg.occurred_at)
            else:
                after = order_status.after_progress(
                    before,
                    service=event.service,
                    step=event.step,
                    details=event.details,
                    at=msg.occurred_at,
                    caused_by=msg.causation_id,
                )
            if "customer_number" in event.details:
                order.customer_number = int(event.details["customer_number"])
            if event.step in _INVOICE_STEPS and "booked_invoice_number" in event.details:
                order.invoice_number = int(event.details["booked_invoice_number"])
            _save(session, order, before, after)


async def handle_failed(event: OrderFailed, uow: UnitOfWork) -> None:
    msg = uow.message
    if msg.order_key is None:
        return
    async with uow.commit() as session:
        add_entry(
            session,
            msg.order_key,
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
            at=msg.occurred_at,
            message_id=msg.message_id,
        )
        order = await _locked(session, msg.order_key)
        if order is not None:
            before = _status_of(order)
            after = order_status.after_failure(
                before,
                service=event.service,
                message_type=event.step,
                message_id=msg.causation_id,
                reason=event.reason,
                at=msg.occurred_at,
            )
            _save(session, order, before, after)


_INVOICE_STEPS = frozenset({"invoice.booked", "payment.registered"})  # not a credit note's number


async def _locked(session: AsyncSession, order_key: str) -> Order | None:
    # Two reports on one order at once (replicas, prefetch) must not overwrite each other's
    # marks: the row is held until commit (SQLite's write lock already serialises writers).
    return await session.get(Order, order_key, with_for_update=True)


def _status_of(order: Order) -> OrderStatus:
    return OrderStatus.load(order.progress, order.problems)


def _save(session: AsyncSession, order: Order, before: OrderStatus, after: OrderStatus) -> None:
    order.progress = after.progress
    order.problems = after.marks_json()
    order.needs_attention = after.needs_attention
    order.status = after.status
    if after.needs_attention:
        order.status_reason = after.reason
    elif before.needs_attention or order.status_reason is not None:
        order.status_reason = None  # the trigger's reason is history once the order went on
    order.updated_at = utcnow()
    session.add(order)
