"""Creation claims: while one worker creates the ledger customer for a buyer (a connection and
match key), the others wait and look again, so two orders of a new buyer make one customer.

A claim is a lease (lb_common/leases.py, named `customers.create:<connection>:<match key>`),
taken and given up by compare-and-set in the database every replica shares. It is renewed while
its worker runs and released when the order's outcome is committed or the attempt fails. A
worker that dies (killed, out of memory, host gone) stops renewing: its claim expires within
`ttl` seconds and the next worker takes it over, instead of every later order of that buyer
waiting behind it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from lb_common import leases
from lb_common.db import Database
from lb_common.errors import Contention

#: Long enough that renewing (every ttl/3) never lets a live worker's claim slip; short enough
#: that a dead worker's buyer waits seconds, not minutes.
CLAIM_TTL_SECONDS = 15.0


def claim_name(connection: str, key: str) -> str:
    return f"customers.create:{connection}:{key}"


class CreationClaims:
    def __init__(self, db: Database, *, ttl: float = CLAIM_TTL_SECONDS) -> None:
        self._db = db
        self._ttl = ttl

    @contextlib.asynccontextmanager
    async def held(self, connection: str, key: str) -> AsyncIterator[bool]:
        """Hold the claim on `key` for the block; `Contention` (retried shortly) while another
        worker holds it. Yields whether an earlier worker stopped while holding it: that one may
        have created the customer in the ledger without storing its link, so search again."""
        name = claim_name(connection, key)
        holder = leases.new_holder("customers")
        left_behind = await leases.expired(self._db, name)
        try:
            async with leases.holding(self._db, name, holder, ttl=self._ttl):
                try:
                    yield left_behind
                except BaseException:
                    # This attempt may have created the customer before it failed: leave the
                    # claim as a dead worker's, so the next one searches the ledger first.
                    await leases.abandon(self._db, name, holder)
                    raise
        except leases.LeaseBusy as exc:
            raise Contention(
                f"Another worker is creating the customer for {key}; looking again shortly.",
                retry_after=1,
            ) from exc
        except leases.LeaseLost as exc:
            raise Contention(
                f"The claim to create the customer for {key} could not be kept (the database "
                "did not answer in time); trying again shortly.",
                retry_after=1,
            ) from exc
