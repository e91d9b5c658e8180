"""The stalled-order sweeper: orders whose work was sent on but that have not moved since, sent
on again.

A message can be lost in a window we cannot rule out (a broker stopped while it sat in a retry
queue), and then nothing would ever move the order. Every step downstream is idempotent by
business key, so sending the order's work again is harmless; the sweeper does that through the
replay's code path (replay.send_again) for:

- an order sent on but not booked (progress transferred or customer_resolved): order.ready again;
- a booked order with a refund or its cancellation sent to invoicing and not yet credited (fewer
  credit outcomes than credits sent): its refunds and cancellation again.

An order with an open problem is parked for a person (its status is failed / credit_failed) and
is left alone. "Not moved" is judged on the timeline: the newest entry is older than the stall
time, where a `retry` entry counts until its announced wait (`delay_ms`) is over, so an order
waiting out a long ledger outage is not sent again needlessly.

Each check looks at a bounded batch of candidates, least recently changed first, and goes on
from where the previous check stopped (starting over from the oldest when it reaches the end):
a candidate that turns out not to be stalled cannot keep the others from being looked at.

While customers' or invoicing's queue holds a backlog (`stall_hold_when_queued` messages ready
or more), the sweeper sends nothing: an order that has not moved is most likely waiting its turn
in that queue, and a copy of its work would only lengthen the queue it waits in. A 10,000-order
`make chaos` run behind a broker restart sent 1,857 copies in 26 minutes that way, and the backlog
grew. A message truly lost is sent again once the queue has drained.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Connection, Table, and_, exists, func, or_, select, tuple_

from lb_common.db import Database, utcnow
from lb_common.messaging import Broker
from lb_common.work_loop import every
from lb_ingest import order_status
from lb_ingest.order_repository import OrderRepository
from lb_ingest.order_status import OrderStatus, ReplayPlan
from lb_ingest.replay import send_again
from lb_ingest.store import OrderRecord, RefundRecord, TimelineEntry

log = logging.getLogger(__name__)

ORDERS_SENT_AGAIN = Counter(
    "ledgerbridge_stalled_orders_resent_total",
    "Stalled orders ingest sent on again, by what was sent (order, credits, both).",
    ["what"],
)
SWEEPS_HELD = Counter(
    "ledgerbridge_stalled_sweeps_held_total",
    "Checks for stalled orders skipped because a queue downstream held a backlog.",
)

#: The services whose work queue an order waits in after ingest sent it on.
DOWNSTREAM = ("customers", "invoicing")

_orders: Table = OrderRecord.__table__  # type: ignore[attr-defined]
_refunds: Table = RefundRecord.__table__  # type: ignore[attr-defined]
_timeline: Table = TimelineEntry.__table__  # type: ignore[attr-defined]

_SENT_ON = (order_status.TRANSFERRED, order_status.CUSTOMER_RESOLVED)
# Booked orders are candidates only when a credit was sent (the status index narrows them).
_MAY_AWAIT_CREDIT = (order_status.BOOKED, order_status.PARTLY_CREDITED)


# --- decisions (pure) ------------------------------------------------------------------------


def credits_outstanding(state: OrderStatus, credits_sent: int) -> bool:
    """Whether a refund or the cancellation sent to invoicing has no outcome yet.

    Invoicing reports each credit's outcome (creditnote.booked / creditnote.skipped) against the
    message that carried it (order_status: key `credit:<message id>`); a credit sent again has
    a new message id and so may be counted twice, which errs towards not sending again."""
    if state.progress == order_status.CREDITED:
        return False  # everything the invoice held is credited
    answered = sum(
        1 for key, mark in state.marks.items() if order_status.is_credit(key) and mark.ok_at
    )
    return credits_sent > answered


def stall_plan(state: OrderStatus, credits_sent: int) -> ReplayPlan | None:
    """What to send again for an order that has not moved; None when it waits for nothing."""
    if state.needs_attention:
        return None  # parked: a person decides
    send_order = state.progress in _SENT_ON
    send_credits = credits_outstanding(state, credits_sent)
    if not send_order and not send_credits:
        return None
    return ReplayPlan(send_order, send_credits, keys=(), left=())


@dataclass(frozen=True)
class Activity:
    at: datetime
    step: str
    details: Mapping[str, Any]


def quiet_since(activity: Sequence[Activity], changed_at: datetime) -> datetime:
    """When the order last moved: its newest timeline entry (or change), a retry counting
    until the wait it announced is over."""
    latest = changed_at
    for entry in activity:
        until = entry.at
        if entry.step == "retry":
            until += timedelta(milliseconds=int(entry.details.get("delay_ms") or 0))
        latest = max(latest, until)
    return latest


# --- the sweep --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    order_key: str
    updated_at: datetime
    quiet_since: datetime


async def downstream_backlog(broker: Broker) -> int | None:
    """The most messages ready in one downstream work queue; None when none can be read."""
    counts = [
        await broker.messages_waiting(broker.topology.work_queue(service)) for service in DOWNSTREAM
    ]
    known = [count for count in counts if count is not None]
    return max(known) if known else None


class StalledOrderSweeper:
    def __init__(
        self,
        db: Database,
        *,
        stall_after: float,
        batch: int,
        backlog: Callable[[], Awaitable[int | None]] | None = None,
        hold_when_queued: int = 0,
    ) -> None:
        self._db = db
        self._stall_after = timedelta(seconds=stall_after)
        self._batch = batch
        self._backlog = backlog
        self._hold_when_queued = hold_when_queued
        self._holding = False
        # Where the previous check stopped: (updated_at, order_key) of the last candidate seen.
        self._after: tuple[datetime, str] | None = None

    async def sweep(self) -> int:
        """One check: send the stalled orders of one batch on again; how many were sent."""
        if await self._held():
            return 0
        now = utcnow()
        async with self._db.session() as session:
            found = await session.run_sync(lambda sync: self._candidates(sync.connection(), now))
        candidates, last = found
        self._after = last
        stalled = [c for c in candidates if c.quiet_since + self._stall_after <= now]
        sent = 0
        for candidate in stalled:
            if await self._db.write_sync(
                functools.partial(self._send_again, candidate=candidate, now=now)
            ):
                sent += 1
        return sent

    async def _held(self) -> bool:
        """Whether a backlog downstream holds this check back (logged when it starts and ends)."""
        if self._backlog is None or self._hold_when_queued <= 0:
            return False
        waiting = await self._backlog()
        held = waiting is not None and waiting >= self._hold_when_queued
        if held != self._holding:
            if held:
                log.info(
                    "not sending stalled orders again while %d messages wait downstream "
                    "(threshold %d): they are most likely queued, not lost",
                    waiting,
                    self._hold_when_queued,
                )
            else:
                log.info("the backlog downstream is down to %s; looking for stalled orders again",
                    waiting)  # fmt: skip
            self._holding = held
        if held:
            SWEEPS_HELD.inc()
        return held

    def _candidates(
        self, conn: Connection, now: datetime
    ) -> tuple[list[Candidate], tuple[datetime, str] | None]:
        credit_sent = or_(
            _orders.c.cancellation_sent.is_(True),
            exists().where(
                _refunds.c.order_key == _orders.c.order_key, _refunds.c.emitted.is_(True)
            ),
        )
        where = [
            or_(
                _orders.c.status.in_(_SENT_ON),
                and_(_orders.c.status.in_(_MAY_AWAIT_CREDIT), credit_sent),
            ),
            _orders.c.needs_attention.is_(False),
            _orders.c.updated_at <= now - self._stall_after,
        ]
        if self._after is not None:
            where.append(tuple_(_orders.c.updated_at, _orders.c.order_key) > self._after)
        rows = conn.execute(
            select(_orders.c.order_key, _orders.c.updated_at)
            .where(*where)
            .order_by(_orders.c.updated_at, _orders.c.order_key)
            .limit(self._batch)
        ).all()
        # A short batch reached the end: the next check starts over from the oldest.
        last = (rows[-1].updated_at, rows[-1].order_key) if len(rows) == self._batch else None
        if not rows:
            return [], last
        keys = [row.order_key for row in rows]
        newest = dict(
            conn.execute(
                select(_timeline.c.order_key, func.max(_timeline.c.at))
                .where(_timeline.c.order_key.in_(keys), _timeline.c.step != "retry")
                .group_by(_timeline.c.order_key)
            ).all()
        )
        activity: dict[str, list[Activity]] = {key: [] for key in keys}
        for key, at in newest.items():
            activity[key].append(Activity(at, "", {}))
        for row in conn.execute(
            select(_timeline.c.order_key, _timeline.c.at, _timeline.c.details).where(
                _timeline.c.order_key.in_(keys), _timeline.c.step == "retry"
            )
        ):
            activity[row.order_key].append(Activity(row.at, "retry", row.details or {}))
        return [
            Candidate(
                row.order_key, row.updated_at, quiet_since(activity[row.order_key], row.updated_at)
            )
            for row in rows
        ], last

    def _send_again(self, conn: Connection, *, candidate: Candidate, now: datetime) -> bool:
        orders = OrderRepository(conn)
        order = orders.get(candidate.order_key, lock=True)
        if order is None or order.updated_at != candidate.updated_at:
            return False  # it moved since we looked
        credits_sent = conn.execute(
            select(func.count())
            .select_from(_refunds)
            .where(_refunds.c.order_key == order.order_key, _refunds.c.emitted.is_(True))
        ).scalar_one() + int(order.cancellation_sent)
        plan = stall_plan(order.status_machine, credits_sent)
        if plan is None:
            return False
        idle = int((now - candidate.quiet_since).total_seconds())
        since = candidate.quiet_since.isoformat(timespec="seconds")
        outcome = send_again(
            conn,
            orders,
            order,
            plan,
            dry_run=False,
            step="stalled",
            note=lambda action: f"No progress for {idle} s since {since}; sent on again: {action}.",
            details={"idle_seconds": idle, "quiet_since": since},
        )
        if outcome.status_code != 202:
            log.warning(
                "stalled order %s could not be sent again: %s", order.order_key, outcome.body
            )
            return False
        what = (
            "both"
            if plan.send_order and plan.send_credits
            else "order"
            if plan.send_order
            else "credits"
        )
        ORDERS_SENT_AGAIN.labels(what).inc()
        log.info("stalled order %s sent on again (%s)", order.order_key, what)
        return True


async def run_periodically(
    sweeper: StalledOrderSweeper, interval: float, stop: asyncio.Event
) -> None:
    """Check for stalled orders every `interval` seconds until `stop` is set."""
    await every(interval, stop, sweeper.sweep, what="looking for stalled orders")
