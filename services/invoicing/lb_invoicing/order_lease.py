"""One order at a time across replicas: its invoice, credit notes and cancellation are made
under a lease named for the order (lb_common/leases.py), so that two replicas never both read
what the order has credited and book against it (design rule 9).

The lease is taken by compare-and-set, renewed while the work runs and released after it; a
message that finds it held raises `Contention` and is retried within seconds (the contention
schedule), by which time the holder is done. A holder that dies stops renewing: the lease is
free again after `ttl` seconds, well inside the contention schedule (parked after 3 min).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lb_common.db import Database
from lb_common.errors import Contention
from lb_common.leases import new_holder, run_holding

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
            raise Contention(
                f"Another invoicing worker is making a document for order {order_key}; "
                f"{what} waits for it."
            )
