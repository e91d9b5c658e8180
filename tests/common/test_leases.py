"""Leases (lb_common/leases.py) between two replicas of a service, on SQLite and PostgreSQL:
one holder at a time, taken over within seconds when the holder dies, and periodic jobs that
run on one replica only."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest

from lb_common import leases
from lb_common.db import Database
from lb_common.migrations import COMMON_TABLES
from tests.support.stores import Store


@pytest.fixture
async def replicas(store: Store) -> AsyncIterator[tuple[Database, Database]]:
    """Two replicas of one service: one database, an engine (pool of connections) each."""
    url = await store.url("svc")
    first, second = Database(url), Database(url)
    await first.create_tables(COMMON_TABLES)
    yield first, second
    await first.dispose()
    await second.dispose()


async def test_of_replicas_racing_for_a_free_lease_exactly_one_gets_it(replicas):
    a, b = replicas
    for round_ in range(5):
        name = f"job-{round_}"
        got = await asyncio.gather(
            *(leases.acquire(db, name, f"holder-{i}", ttl=30) for i, db in enumerate([a, b] * 4))
        )
        assert sum(got) == 1, got
        winner = f"holder-{got.index(True)}"
        assert await leases.holder_of(a, name) == winner
        # The holder extends it; nobody else does, nor can they release it.
        assert await leases.acquire(b, name, winner, ttl=30)
        assert await leases.renew(a, name, winner, ttl=30)
        others = {f"holder-{i}" for i in range(8)} - {winner}
        for other in others:
            assert not await leases.renew(a, name, other, ttl=30)
            assert not await leases.release(b, name, other)
        assert await leases.holder_of(b, name) == winner


async def test_a_dead_holders_lease_is_taken_over_once_it_expires(replicas):
    a, b = replicas
    assert await leases.acquire(a, "reconcile", "dead", ttl=1.0)
    assert not await leases.acquire(b, "reconcile", "successor", ttl=1.0)
    await asyncio.sleep(1.2)  # "dead" never renews
    assert await leases.holder_of(b, "reconcile") is None
    assert await leases.acquire(b, "reconcile", "successor", ttl=30)
    # The old holder, back from the dead, has lost it and cannot take it back or drop it.
    assert not await leases.renew(a, "reconcile", "dead", ttl=30)
    assert not await leases.acquire(a, "reconcile", "dead", ttl=30)
    assert not await leases.release(a, "reconcile", "dead")
    assert await leases.holder_of(a, "reconcile") == "successor"
    # Released, it is free at once.
    assert await leases.release(b, "reconcile", "successor")
    assert await leases.acquire(a, "reconcile", "next", ttl=30)


async def test_run_holding_stops_the_work_before_a_lost_lease_can_be_taken_over(replicas):
    a, b = replicas
    started = asyncio.Event()

    async def endless() -> None:
        started.set()
        await asyncio.sleep(60)

    running = asyncio.create_task(leases.run_holding(a, "sync", "first", endless, ttl=1.5))
    await started.wait()
    # Someone takes the lease away (as if "first" had been paused past its expiry).
    async with b.write_connection() as connection:
        await connection.exec_driver_sql("UPDATE leases SET holder = 'thief'")
    with pytest.raises(leases.LeaseLost):
        await asyncio.wait_for(running, timeout=5)


# --- a periodic job on two replicas, one of which dies -------------------------------------

_REPLICA = """
import asyncio, sys
from lb_common import leases
from lb_common.db import Database

async def main() -> None:
    db = Database(sys.argv[1])
    async def job(stop: asyncio.Event) -> None:
        print("leading", flush=True)
        await stop.wait()
    await leases.lead(asyncio.Event(), db, "periodic", "doomed", job, ttl=2.0)

asyncio.run(main())
"""


async def test_a_periodic_job_runs_on_one_replica_and_a_successor_takes_over_when_it_dies(
    replicas, store
):
    a, _ = replicas
    url = await store.url("svc")
    # Replica 1, a real process, leads first.
    doomed = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _REPLICA, url, stdout=asyncio.subprocess.PIPE
    )
    assert doomed.stdout is not None
    assert await asyncio.wait_for(doomed.stdout.readline(), timeout=30) == b"leading\n"

    # Replica 2, here, runs the same job alongside; it must not start while replica 1 lives.
    runs: list[float] = []
    loop = asyncio.get_running_loop()

    async def job(stop: asyncio.Event) -> None:
        runs.append(loop.time())
        await stop.wait()

    stop = asyncio.Event()
    successor = asyncio.create_task(leases.lead(stop, a, "periodic", "successor", job, ttl=2.0))
    try:
        await asyncio.sleep(3.0)  # longer than the lease: replica 1 renews it
        assert runs == []
        assert await leases.holder_of(a, "periodic") == "doomed"

        doomed.kill()  # no clean shutdown: the lease is left to expire
        await doomed.wait()
        killed = loop.time()
        for _ in range(60):
            if runs:
                break
            await asyncio.sleep(0.1)
        assert len(runs) == 1, "the successor did not take over"
        assert runs[0] - killed < 2.0 + 2.0 / 3 * 1.5 + 0.5  # ttl + one jittered attempt
        assert await leases.holder_of(a, "periodic") == "successor"
    finally:
        stop.set()
        await successor
        if doomed.returncode is None:
            doomed.kill()
    # Stopping cleanly gives the lease up at once.
    assert await leases.holder_of(a, "periodic") is None
