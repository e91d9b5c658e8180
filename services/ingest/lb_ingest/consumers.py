"""ingest's message handlers: every service reports an order's steps here, for its timeline and
its status (the state machine is order_status.py). Two reports on one order at once (replicas,
prefetch) are serialised by the order's lock (order_repository.py), so neither overwrites the
other's marks and progress never moves backwards."""

from __future__ import annotations

from lb_common.events import OrderFailed, OrderProgress
from lb_common.handlers import batchable
from lb_common.unit_of_work import UnitOfWork
from lb_ingest import order_status
from lb_ingest.order_repository import OrderRepository, with_orders
from lb_ingest.timeline import add_entry

# A service's parking lot reports that an operator sent a parked message back, or dismissed it
# (parking.py): either way its failure is behind it.
OPERATOR_STEPS = frozenset({"parked.retried", "parked.dismissed"})


# Both write only through uow.commit(), so the consumer may give several reports one
# transaction (lb_common/messaging.py, "Batches"): four reports come in for every order.
@batchable
async def handle_progress(event: OrderProgress, uow: UnitOfWork) -> None:
    msg = uow.message
    order_key = msg.order_key
    if order_key is None:
        return
    async with uow.commit() as session:
        add_entry(
            session,
            order_key,
            event.step,
            event.message,
            service=event.service,
            level="warning" if event.step == "retry" else "info",
            details=event.details,
            at=msg.occurred_at,
            message_id=msg.message_id,
        )

        def report(orders: OrderRepository) -> None:
            order = orders.get(order_key, lock=True, with_document=False)
            if order is None:
                return
            before = order.status_machine
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
            order.take_status(after)
            orders.save([order])

        await with_orders(session, report)


@batchable
async def handle_failed(event: OrderFailed, uow: UnitOfWork) -> None:
    msg = uow.message
    order_key = msg.order_key
    if order_key is None:
        return
    async with uow.commit() as session:
        add_entry(
            session,
            order_key,
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

        def report(orders: OrderRepository) -> None:
            order = orders.get(order_key, lock=True, with_document=False)
            if order is None:
                return
            order.take_status(
                order_status.after_failure(
                    order.status_machine,
                    service=event.service,
                    message_type=event.step,
                    message_id=msg.causation_id,
                    reason=event.reason,
                    at=msg.occurred_at,
                )
            )
            orders.save([order])

        await with_orders(session, report)


# A report of these steps carries the booked invoice's number (not a credit note's).
_INVOICE_STEPS = frozenset({"invoice.booked", "payment.registered"})
