"""The order state machine (lb_ingest/order_status.py): progress never moves backwards, every
open failure shows as a status and as needs_attention, and the outcome does not depend on the
order the services' reports arrive in."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from lb_ingest import order_status as s
from lb_ingest.order_status import OrderStatus

T0 = datetime(2025, 3, 1, 10, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def progress(step: str, seconds: int, *, service: str, caused_by: str = "m", **details):
    def apply(state: OrderStatus) -> OrderStatus:
        return s.after_progress(
            state, service=service, step=step, details=details, at=at(seconds), caused_by=caused_by
        )

    return apply


def failure(message_type: str, seconds: int, *, service: str, message_id: str = "m"):
    def apply(state: OrderStatus) -> OrderStatus:
        return s.after_failure(
            state,
            service=service,
            message_type=message_type,
            message_id=message_id,
            reason=f"{service} stopped on {message_type}",
            at=at(seconds),
        )

    return apply


def run(events, start: str = s.TRANSFERRED) -> OrderStatus:
    state = OrderStatus(start)
    for event in events:
        state = event(state)
    return state


RESOLVED = progress("customer.resolved", 1, service="customers", customer_number=7)
BOOKED = progress("invoice.booked", 2, service="invoicing", booked_invoice_number=20001)


def test_progress_only_moves_forward():
    assert s.advance(s.BOOKED, s.CUSTOMER_RESOLVED) == s.BOOKED
    assert s.advance(s.TRANSFERRED, s.BOOKED) == s.BOOKED
    assert s.advance(s.CREDITED, s.PARTLY_CREDITED) == s.CREDITED
    # A late report of the customer after the invoice changes nothing.
    assert run([BOOKED, RESOLVED]).status == s.BOOKED


def test_a_failure_before_booking_is_failed_and_a_later_success_clears_it():
    state = run([failure("order.ready", 1, service="customers")])
    assert (state.status, state.needs_attention) == (s.FAILED, True)
    assert state.reason == "customers stopped on order.ready"
    fixed = progress("customer.resolved", 5, service="customers")(
        failure("order.ready", 1, service="customers")(OrderStatus(s.TRANSFERRED))
    )
    assert (fixed.status, fixed.needs_attention, fixed.reason) == (s.CUSTOMER_RESOLVED, False, None)


def test_a_failure_after_booking_is_failed_not_hidden_behind_booked():
    # The payment registration fails after the invoice was booked.
    state = run([RESOLVED, BOOKED, failure("customer.resolved", 3, service="invoicing")])
    assert state.progress == s.BOOKED
    assert (state.status, state.needs_attention) == (s.FAILED, True)


@pytest.mark.parametrize(
    "events",
    list(
        itertools.permutations(
            [RESOLVED, BOOKED, failure("customer.resolved", 3, service="invoicing")]
        )
    ),
)
def test_the_outcome_does_not_depend_on_the_order_reports_arrive_in(events):
    state = run(events)
    assert (state.progress, state.status, state.needs_attention) == (s.BOOKED, s.FAILED, True)


def test_a_stale_success_reported_after_a_failure_does_not_clear_it():
    # invoice.booked happened at 2, the payment failed at 3; the booking report arrives last.
    state = run([failure("customer.resolved", 3, service="invoicing"), BOOKED])
    assert state.status == s.FAILED
    # The payment registered on a replay (later) clears it.
    state = progress("payment.registered", 9, service="invoicing")(state)
    assert (state.status, state.needs_attention) == (s.BOOKED, False)


def test_credit_notes_move_an_order_to_partly_then_fully_credited():
    first = progress("creditnote.booked", 4, service="invoicing", caused_by="r1")
    full = progress(
        "creditnote.booked", 5, service="invoicing", caused_by="r2", fully_credited=True
    )
    assert run([RESOLVED, BOOKED, first]).status == s.PARTLY_CREDITED
    assert run([RESOLVED, BOOKED, first, full]).status == s.CREDITED
    assert run([RESOLVED, BOOKED, full, first]).status == s.CREDITED  # never back to partly


def test_a_refused_credit_is_credit_failed_and_only_its_own_success_clears_it():
    credited = progress("creditnote.booked", 4, service="invoicing", caused_by="r1")
    refused = failure("order.refunded", 5, service="invoicing", message_id="r3")
    state = run([RESOLVED, BOOKED, credited, refused])
    assert (state.status, state.needs_attention, state.progress) == (
        s.CREDIT_FAILED,
        True,
        s.PARTLY_CREDITED,
    )
    # Another refund's credit note, booked later, does not settle refund r3.
    other = progress("creditnote.booked", 6, service="invoicing", caused_by="r4")
    assert other(state).status == s.CREDIT_FAILED
    # r3 sent back from /parked and booked then does.
    retried = progress("creditnote.booked", 8, service="invoicing", caused_by="r3")
    assert retried(state).status == s.PARTLY_CREDITED


def test_the_order_s_own_failure_outranks_a_credit_failure():
    state = run(
        [
            failure("order.refunded", 3, service="invoicing", message_id="r1"),
            failure("customer.resolved", 4, service="invoicing"),
        ]
    )
    assert state.status == s.FAILED


def test_a_resend_closes_earlier_failures_but_not_a_later_one():
    state = run([failure("order.ready", 1, service="customers")])
    resent = s.close_problems(state, ["customers"], at(2))
    assert (resent.status, resent.needs_attention) == (s.TRANSFERRED, False)
    # The failure report of before the resend, arriving late, does not reopen it.
    late = failure("order.ready", 1, service="customers")(resent)
    assert late.needs_attention is False
    # Failing again after the resend does.
    again = failure("order.ready", 3, service="customers", message_id="m2")(resent)
    assert again.status == s.FAILED


def test_the_marks_survive_a_round_trip_through_json():
    state = run(
        [RESOLVED, BOOKED, failure("order.refunded", 5, service="invoicing", message_id="r")]
    )
    loaded = OrderStatus.load(state.progress, state.marks_json())
    assert loaded == state


def test_replay_sends_what_failed_and_names_what_it_cannot():
    assert s.replay_plan(run([RESOLVED, BOOKED])) is None  # nothing to do
    stuck = s.replay_plan(OrderStatus(s.TRANSFERRED))
    assert stuck is not None and stuck.send_order and not stuck.send_credits
    credit = s.replay_plan(
        run([RESOLVED, BOOKED, failure("order.cancelled", 5, service="invoicing", message_id="c")])
    )
    assert credit is not None and credit.send_credits and not credit.send_order
    assert credit.keys == ("credit:c",)
    stock = run([RESOLVED, BOOKED, failure("invoice.booked", 5, service="inventory")])
    assert stock.status == s.FAILED
    assert s.replay_plan(stock) is None  # inventory's message is retried from its /parked
