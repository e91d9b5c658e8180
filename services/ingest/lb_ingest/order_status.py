"""Where an order stands after the services' reports: a plain state machine over plain data.

An order has two facts that ingest keeps apart:

- its **progress**, how far it got: received → waiting → transferred → customer_resolved →
  booked → partly_credited → credited (or skipped / cancelled before it was transferred, which
  the webhook path decides). Progress only ever moves forward: reports arrive out of order, and
  a late report of an earlier step changes nothing.
- its **problems**: per piece of work, when it last failed and when it last succeeded (or was
  sent again by an operator). A problem is open while its last failure is later than its last
  success. Both marks only move forward in time, so the outcome does not depend on the order
  the reports arrive in.

The status an operator filters on is derived from the two: `failed` while the order's own flow
(customer, invoice, payment, stock) has an open problem, `credit_failed` while a refund or the
cancellation could not be credited, else the progress. `needs_attention` is true exactly while a
problem is open.

Pieces of work (problem keys):
- `ingest`: the webshop sent an order that could not be read (decided on the webhook path).
- `customers`, `invoicing`, `inventory`: the order's own flow in that service (order.ready,
  customer.resolved, invoice.booked). One piece each: a service handles one such message per
  order, and a later success of it means the earlier failure was overcome.
- `credit:<message id>`: one refund or the cancellation, by the id of the order.refunded /
  order.cancelled message ingest sent for it. Invoicing reports the credit note's outcome with
  that message as its cause, so failure and success meet on the same key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

# Progress, in the order an order normally moves through it.
RECEIVED = "received"
WAITING = "waiting"  # for the transfer trigger
SKIPPED = "skipped"
CANCELLED = "cancelled"  # before it was transferred: no invoice is made
TRANSFERRED = "transferred"
CUSTOMER_RESOLVED = "customer_resolved"
BOOKED = "booked"
PARTLY_CREDITED = "partly_credited"
CREDITED = "credited"
# Statuses that are problems, not progress.
FAILED = "failed"
CREDIT_FAILED = "credit_failed"

PROGRESS = (
    RECEIVED,
    WAITING,
    SKIPPED,
    CANCELLED,
    TRANSFERRED,
    CUSTOMER_RESOLVED,
    BOOKED,
    PARTLY_CREDITED,
    CREDITED,
)
STATUSES = (*PROGRESS, FAILED, CREDIT_FAILED)

_RANK = {
    RECEIVED: 0,
    WAITING: 1,
    SKIPPED: 1,
    CANCELLED: 1,
    TRANSFERRED: 2,
    CUSTOMER_RESOLVED: 3,
    BOOKED: 4,
    PARTLY_CREDITED: 5,
    CREDITED: 6,
}

CREDIT_MESSAGES = frozenset({"order.refunded", "order.cancelled"})
CREDIT_STEPS = frozenset({"creditnote.booked", "creditnote.skipped"})
# The steps that finish a service's part of the order's own flow.
_FINISHING_STEPS = {
    "customer.resolved": "customers",
    "invoice.booked": "invoicing",
    "payment.registered": "invoicing",
    "invoice.left_as_draft": "invoicing",
    "stock.read": "inventory",
}
_PROGRESS_BY_STEP = {
    "customer.resolved": CUSTOMER_RESOLVED,
    "invoice.booked": BOOKED,
    "payment.registered": BOOKED,
}
# What a replay can send again: order.ready (re-read from the stored webhook when it could not be
# read, key `ingest`) goes through customers and invoicing; credits are sent again from the
# refunds ingest keeps. Inventory's step is retried from its own /parked.
# `order`: a failure recorded before problems were kept per piece of work (migration 0003).
REPLAY_SENDS_ORDER = frozenset({"ingest", "customers", "invoicing", "order"})


def credit_key(message_id: str | None) -> str:
    return f"credit:{message_id}"


def is_credit(key: str) -> bool:
    return key.startswith("credit:")


def problem_key(service: str, message_type: str, message_id: str | None) -> str:
    """The piece of work a message of `message_type` handled by `service` belongs to."""
    if message_type in CREDIT_MESSAGES:
        return credit_key(message_id)
    return service


@dataclass(frozen=True)
class Mark:
    """One piece of work: when it last failed (and why) and when it last went through."""

    failed_at: datetime | None = None
    ok_at: datetime | None = None
    reason: str | None = None
    service: str | None = None
    message_id: str | None = None  # the message that failed (parked in `service`)
    message_type: str | None = None

    @property
    def open(self) -> bool:
        return self.failed_at is not None and (self.ok_at is None or self.failed_at > self.ok_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "failed_at": self.failed_at.isoformat() if self.failed_at else None,
            "ok_at": self.ok_at.isoformat() if self.ok_at else None,
            "reason": self.reason,
            "service": self.service,
            "message_id": self.message_id,
            "message_type": self.message_type,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Mark:
        def moment(value: Any) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            failed_at=moment(data.get("failed_at")),
            ok_at=moment(data.get("ok_at")),
            reason=data.get("reason"),
            service=data.get("service"),
            message_id=data.get("message_id"),
            message_type=data.get("message_type"),
        )


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


@dataclass(frozen=True)
class OrderStatus:
    progress: str
    marks: Mapping[str, Mark] = field(default_factory=dict)

    @property
    def open_problems(self) -> dict[str, Mark]:
        return {key: mark for key, mark in self.marks.items() if mark.open}

    @property
    def needs_attention(self) -> bool:
        return bool(self.open_problems)

    @property
    def status(self) -> str:
        problems = self.open_problems
        if any(not is_credit(key) for key in problems):
            return FAILED
        if problems:
            return CREDIT_FAILED
        return self.progress

    @property
    def reason(self) -> str | None:
        """The newest open problem's reason, for the order list."""
        problems = self.open_problems.values()
        newest = max(problems, key=lambda m: m.failed_at or datetime.min, default=None)
        return newest.reason if newest else None

    def marks_json(self) -> dict[str, Any]:
        return {key: mark.to_json() for key, mark in self.marks.items()}

    @classmethod
    def load(cls, progress: str, marks: Mapping[str, Any] | None) -> OrderStatus:
        return cls(progress, {k: Mark.from_json(v) for k, v in (marks or {}).items()})


def reached(progress: str, step: str) -> bool:
    """Whether an order whose progress is `progress` has got as far as `step`."""
    return _RANK.get(progress, 0) >= _RANK[step]


def advance(current: str, reported: str) -> str:
    """Progress after a report of `reported`: the furthest of the two."""
    return reported if _RANK.get(reported, -1) > _RANK.get(current, -1) else current


def _with_mark(state: OrderStatus, key: str, mark: Mark) -> OrderStatus:
    return replace(state, marks={**state.marks, key: mark})


def after_progress(
    state: OrderStatus,
    *,
    service: str,
    step: str,
    details: Mapping[str, Any],
    at: datetime,
    caused_by: str | None,
) -> OrderStatus:
    """A service reported a step (`caused_by`: the id of the message it was handling)."""
    progress = state.progress
    key: str | None = None
    if step in CREDIT_STEPS:
        key = credit_key(caused_by)
        if step == "creditnote.booked":
            progress = advance(
                advance(progress, BOOKED),
                CREDITED if details.get("fully_credited") else PARTLY_CREDITED,
            )
    elif step in _FINISHING_STEPS and _FINISHING_STEPS[step] == service:
        key = service
    if step in _PROGRESS_BY_STEP:
        progress = advance(progress, _PROGRESS_BY_STEP[step])
    state = replace(state, progress=progress)
    if key is None:
        return state
    mark = state.marks.get(key, Mark(service=service))
    return _with_mark(state, key, replace(mark, ok_at=_later(mark.ok_at, at)))


def after_failure(
    state: OrderStatus,
    *,
    service: str,
    message_type: str,
    message_id: str | None,
    reason: str,
    at: datetime,
) -> OrderStatus:
    """A service parked the message `message_id` (of `message_type`) for this order."""
    key = problem_key(service, message_type, message_id)
    mark = state.marks.get(key, Mark())
    if mark.failed_at is not None and mark.failed_at >= at:
        return state  # an older failure of the same work, reported late
    return _with_mark(
        state,
        key,
        replace(
            mark,
            failed_at=at,
            reason=reason,
            service=service,
            message_id=message_id,
            message_type=message_type,
        ),
    )


def close_problems(state: OrderStatus, keys: Iterable[str], at: datetime) -> OrderStatus:
    """An operator sent these pieces of work again (replay, retry from /parked) or dismissed
    their parked message: their failures so far are behind them; a new failure opens them
    again."""
    marks = dict(state.marks)
    for key in keys:
        mark = marks.get(key, Mark())
        marks[key] = replace(mark, ok_at=_later(mark.ok_at, at))
    return replace(state, marks=marks)


@dataclass(frozen=True)
class ReplayPlan:
    send_order: bool  # order.ready again
    send_credits: bool  # the order's refunds and its cancellation again
    keys: tuple[str, ...]  # the problems this replay sends again
    left: tuple[str, ...]  # open problems a replay cannot send again (retry from /parked)


def replay_plan(state: OrderStatus) -> ReplayPlan | None:
    """What a replay sends again; None when there is nothing a replay can do."""
    problems = state.open_problems
    order_keys = [k for k in problems if k in REPLAY_SENDS_ORDER]
    credit_keys = [k for k in problems if is_credit(k)]
    stuck = state.progress in (TRANSFERRED, CUSTOMER_RESOLVED)  # sent on, no answer yet
    send_order = bool(order_keys) or stuck
    left = tuple(k for k in problems if k not in order_keys and k not in credit_keys)
    if not send_order and not credit_keys:
        return None
    return ReplayPlan(send_order, bool(credit_keys), (*order_keys, *credit_keys), left)
