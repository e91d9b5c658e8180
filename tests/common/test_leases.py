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


async def test_holding_waits_for_a_busy_lease_and_releases_it_when_the_block_ends(replicas):
    a, b = replicas
    assert await leases.acquire(b, "push", "other", ttl=30)
    with pytest.raises(leases.LeaseBusy):
        async with leases.holding(a, "push", "me", ttl=30, wait=0.3):
            pass
    # Released by its holder while we wait: we get it, and give it up when the block ends.
    asyncio.get_running_loop().call_later(
        0.3, lambda: asyncio.ensure_future(leases.release(b, "push", "other"))
    )
    async with leases.holding(a, "push", "me", ttl=30, wait=5):
        assert await leases.holder_of(b, "push") == "me"
    assert await leases.holder_of(b, "push") is None
    # Also when the block fails.
    with pytest.raises(RuntimeError):
        async with leases.holding(a, "push", "me", ttl=30):
            raise RuntimeError("the work failed")
    assert await leases.holder_of(b, "push") is None


async def test_holding_stops_the_block_when_its_lease_is_taken_away(replicas):
    a, b = replicas
    reached_the_end = False
    with pytest.raises(leases.LeaseLost):
        async with leases.holding(a, "claim", "first", ttl=1.5):
            async with b.write_connection() as connection:
                await connection.exec_driver_sql("UPDATE leases SET holder = 'thief'")
            await asyncio.sleep(5)
            reached_the_end = True
    assert not reached_the_end
    assert await leases.holder_of(b, "claim") == "thief"  # not released by the loser
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_holding_passes_a_cancellation_from_outside_on(replicas):
    a, b = replicas
    inside = asyncio.Event()

    async def work() -> None:
        async with leases.holding(a, "claim", "first", ttl=30):
            inside.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(work())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await leases.holder_of(b, "claim") is None


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


async def test_an_abandoned_lease_is_free_at_once_and_says_it_was_left_half_done(replicas):
    # customers' creation claim relies on this: a worker that failed after it may have created
    # the customer abandons its claim, and the next worker searches the ledger before creating.
    a, b = replicas
    assert await leases.acquire(a, "claim", "first", ttl=30)
    assert not await leases.expired(b, "claim")  # held: busy, not left behind
    assert await leases.abandon(a, "claim", "first")
    assert await leases.expired(b, "claim")
    assert await leases.acquire(b, "claim", "second", ttl=30)  # no wait for the ttl
    assert await leases.release(b, "claim", "second")
    assert not await leases.expired(a, "claim")  # released cleanly: nothing left behind


async def test_a_lease_taken_in_the_works_transactions_is_one_holders_and_given_back_with_it(
    replicas,
):
    """run_in_transactions: the lease commits with the work's first transaction (or not at
    all), others see it taken from then on, and it is given back with the last transaction."""
    a, b = replicas
    seen: list[str | None] = []

    async def work(lease: leases.LeaseInTransactions) -> str:
        async with a.transaction() as session:
            await (await session.connection()).run_sync(lease.take)
        seen.append(await leases.holder_of(b, "order:1"))
        assert not await leases.acquire(b, "order:1", "other", ttl=30)
        async with lease.giving_back(a.transaction()):
            pass
        seen.append(await leases.holder_of(b, "order:1"))
        return "done"

    assert await leases.run_in_transactions(a, "order:1", "me", work, ttl=30) == "done"
    assert seen == ["me", None]

    # Busy: LeaseBusy from take, and the transaction it was taken in rolls back.
    assert await leases.acquire(b, "order:2", "other", ttl=30)

    async def blocked(lease: leases.LeaseInTransactions) -> None:
        async with a.transaction() as session:
            await (await session.connection()).run_sync(lease.take)

    with pytest.raises(leases.LeaseBusy):
        await leases.run_in_transactions(a, "order:2", "me", blocked, ttl=30)
    assert await leases.holder_of(b, "order:2") == "other"


async def test_a_lease_taken_in_transactions_is_released_when_the_work_fails(replicas):
    a, b = replicas

    async def fails_after_taking(lease: leases.LeaseInTransactions) -> None:
        await a.write_sync(lease.take)  # as the work's first transaction may be
        raise RuntimeError("the ledger said no")

    with pytest.raises(RuntimeError):
        await leases.run_in_transactions(a, "order:3", "me", fails_after_taking, ttl=30)
    assert await leases.holder_of(b, "order:3") is None

    async def last_transaction_fails(lease: leases.LeaseInTransactions) -> None:
        async with a.transaction() as session:
            await (await session.connection()).run_sync(lease.take)
        async with lease.giving_back(a.transaction()):
            raise RuntimeError("the outcome could not be written")

    with pytest.raises(RuntimeError):
        await leases.run_in_transactions(a, "order:4", "me", last_transaction_fails, ttl=30)
    assert await leases.holder_of(b, "order:4") is None


async def test_a_lease_taken_in_transactions_is_renewed_and_its_loss_stops_the_work(replicas):
    a, b = replicas
    renewed_past_its_ttl = asyncio.Event()

    async def long_work(lease: leases.LeaseInTransactions) -> None:
        async with a.transaction() as session:
            await (await session.connection()).run_sync(lease.take)
        await asyncio.sleep(2.0)  # past the 1.5 s ttl: held only because it is renewed
        assert await leases.holder_of(b, "order:5") == "me"
        renewed_past_its_ttl.set()
        async with b.write_connection() as connection:
            await connection.exec_driver_sql("UPDATE leases SET holder = 'thief'")
        await asyncio.sleep(60)

    with pytest.raises(leases.LeaseLost):
        await asyncio.wait_for(
            leases.run_in_transactions(a, "order:5", "me", long_work, ttl=1.5), timeout=10
        )
    assert renewed_past_its_ttl.is_set()
    assert await leases.holder_of(b, "order:5") == "thief"  # not released by the loser
