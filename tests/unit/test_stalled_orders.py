"""The sweeper's decisions (lb_ingest/stalled.py): when an order waits for nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lb_ingest import order_status
from lb_ingest.order_status import Mark, OrderStatus
from lb_ingest.stalled import Activity, quiet_since, stall_plan

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_a_booked_order_with_a_cancellation_not_credited_gets_its_credits_sent_again():
    plan = stall_plan(OrderStatus(order_status.BOOKED), credits_sent=1)
    assert plan is not None and plan.send_credits and not plan.send_order


def test_a_booked_order_whose_credits_all_have_an_outcome_waits_for_nothing():
    answered = {"credit:m1": Mark(ok_at=T0)}
    assert stall_plan(OrderStatus(order_status.PARTLY_CREDITED, answered), credits_sent=1) is None
    assert stall_plan(OrderStatus(order_status.BOOKED), credits_sent=0) is None
    assert stall_plan(OrderStatus(order_status.CREDITED), credits_sent=3) is None


def test_an_order_sent_on_but_not_booked_gets_order_ready_again_unless_parked():
    plan = stall_plan(OrderStatus(order_status.CUSTOMER_RESOLVED), credits_sent=0)
    assert plan is not None and plan.send_order
    parked = {"invoicing": Mark(failed_at=T0, reason="no product")}
    assert stall_plan(OrderStatus(order_status.CUSTOMER_RESOLVED, parked), credits_sent=0) is None


def test_a_retry_counts_as_activity_until_its_announced_wait_is_over():
    entries = [
        Activity(T0, "retry", {"delay_ms": 300_000}),
        Activity(T0 + timedelta(seconds=10), "order.transferred", {}),
    ]
    assert quiet_since(entries, T0) == T0 + timedelta(minutes=5)
    assert quiet_since(entries[1:], T0) == T0 + timedelta(seconds=10)
