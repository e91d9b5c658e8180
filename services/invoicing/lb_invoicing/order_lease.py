"""One order at a time across replicas: its invoice, credit notes and cancellation are made
under a lease named for the order (lb_common/leases.py), so that two replicas never both read
what the order has credited and book against it (design rule 9).

The lease is taken by compare-and-set, renewed while the work runs and released after it; a
message that finds it held raises `Contention` and is retried within seconds (the contention
schedule), by which time the holder is done. A holder that dies stops renewing: the lease is
free again after `ttl` seconds, well inside the contention schedule (parked after 3 min).

An invoice (`run_alone_in_transactions`) takes the lease in its intent's transaction and gives
it back in the one that records the outcome: two write transactions per booked invoice instead
of four (lb_common/leases.py, `LeaseInTransactions`). Credit notes take it in writes of their
own (`run_alone`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lb_common.db import Database
from lb_common.errors import Contention
from lb_common.leases import (
    LeaseBusy,
    LeaseInTransactions,
    new_holder,
    run_holding,
    run_in_transactions,
)

SERVICE = "invoicing"


@dataclass(frozen=True)
class OrderLeases:
    db: Database
    ttl: float = 15.0

    async def run_alone(
        self, order_key: str, what: str, work: Callable[[], Awaitable[None]]
    ) -> None:
        """Run `work` holding the order's lease; Contention if another worker holds it."""
        # A holder per call, not per process: two messages of one order on one replica must
        # not share the lease either.
        ran, _ = await run_holding(
            self.db, f"order:{order_key}", new_holder(SERVICE), work, ttl=self.ttl
        )
        if not ran:
            raise _contention(order_key, what)

    async def run_alone_in_transactions(
        self,
        order_key: str,
        what: str,
        work: Callable[[LeaseInTransactions], Awaitable[None]],
    ) -> None:
        """Like `run_alone`, but `work` takes the lease in its first write transaction
        (`lease.take(session)`) and gives it back in its last (`lease.giving_back(...)`)."""
        try:
            await run_in_transactions(
                self.db, f"order:{order_key}", new_holder(SERVICE), work, ttl=self.ttl
            )
        except LeaseBusy:
            raise _contention(order_key, what) from None


def _contention(order_key: str, what: str) -> Contention:
    return Contention(
        f"Another invoicing worker is making a document for order {order_key}; {what} waits for it."
    )
