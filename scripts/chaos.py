"""`make chaos`: the scaled-out stack on PostgreSQL under faults; prints what was lost,
duplicated, wrong or parked. Exits non-zero unless every one of those is zero.

One run: a private RabbitMQ node and fresh PostgreSQL databases; the sandbox as e-conomic and
Shopify Admin; ingest as web + worker, replicas of customers and invoicing, inventory. While
the orders are posted (with duplicates, paid before created, stale retries, refunds and
cancellations, see chaos_orders.py) the ledger answers 10 % 5xx, 5 % 429 and loses 2 % of its
replies, a random service process is killed with SIGKILL every few seconds (and restarted at
once, as a supervisor would), and the broker restarts. Then the faults stop and the run waits
until everything settles (or a timeout), and the ledger is checked order by order
(chaos_verdict.py). Everything is on loopback; every loop is bounded.

    .venv/bin/python scripts/chaos.py --orders 300 --kills-per-service 5 --broker-restarts 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import shutil
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aio_pika.exceptions
import httpx

if __package__ in (None, ""):  # run as a file: make `scripts.*` and `tests.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.chaos_orders import SECRET, SHOP, Delivery, Expected, build_run
from scripts.chaos_stack import ROOT, Broker, Proc, Stack, create_databases, drop_databases, say
from scripts.chaos_verdict import FAILURE_FIGURES, Verdict, judge
from tests.platforms.factories import shopify_headers

SERVICES = ("ingest", "customers", "invoicing", "inventory")
IN_FLIGHT = ("received", "transferred", "customer_resolved")
# The ledger faults of issue #11: 10 % 5xx, 5 % 429, 2 % lost replies (the write happens).
FAULTS = (
    {"kind": "error", "status": 503, "rate": 0.10},
    {"kind": "rate_limit", "rate": 0.05, "retryAfter": 1},
    {"kind": "lost_reply", "rate": 0.02},
)


@dataclass
class Clock:
    """Wall-clock seconds since the chaos began (monotonic)."""

    t0: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        return time.monotonic() - self.t0


@dataclass
class Tally:
    posted: int = 0
    post_retries: int = 0
    post_refused: list[str] = field(default_factory=list)  # never accepted, after every retry
    kills: dict[str, int] = field(default_factory=dict)
    broker_restarts: int = 0
    broker_down_seconds: float = 0.0
    last_fault: float = 0.0
    faults_fired: dict[str, int] = field(default_factory=dict)
    first_seen: dict[str, float] = field(default_factory=dict)  # booked doc -> run time seen
    chaos_seconds: float = 0.0
    settled: bool = False
    settle_seconds: float = 0.0
    queues_at_end: dict[str, int] = field(default_factory=dict)
    broker_log: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    stuck: bool = False  # nothing moved any more, with work left undone


class Run:
    def __init__(self, args: argparse.Namespace, stack: Stack, expected: list[Expected]) -> None:
        self.args = args
        self.stack = stack
        self.expected = expected
        self.clock = Clock()
        self.tally = Tally(kills={s: 0 for s in SERVICES})
        self.rng = random.Random(args.seed * 7919)
        self.http = httpx.AsyncClient(
            timeout=10, headers={"Authorization": f"Bearer {stack.admin_token}"}
        )
        self.grant = args.grant
        self.ingest_web = next(p for p in stack.procs if p.name == "ingest-web")

    # --- chaos ------------------------------------------------------------------------------

    async def chaos(self, deliveries: list[Delivery], duration: float) -> None:
        self.clock = Clock()
        if self.args.faults:
            for spec in FAULTS:
                await self._sandbox("POST", "/_sandbox/faults", json=spec)
        self._event("chaos begins" + (": ledger faults on" if self.args.faults else ""))
        watcher = asyncio.create_task(self._watch())
        try:
            await asyncio.gather(
                self._post_all(deliveries),
                self._kill_on_schedule(duration),
                self._restart_broker_on_schedule(duration),
            )
            if self.args.faults:
                fired = (await self._sandbox("GET", "/_sandbox/faults")).json()
                self.tally.faults_fired = {f["spec"]["kind"]: f["fired"] for f in fired}
                await self._sandbox("DELETE", "/_sandbox/faults")
            self.tally.last_fault = self.clock.now()
            self.tally.chaos_seconds = self.tally.last_fault
            self._event("faults stopped; waiting for the stack to settle")
            await self._settle()
        finally:
            watcher.cancel()

    def _event(self, what: str) -> None:
        """Print and keep a fault event, with the UTC time to match against timelines."""
        at = self.clock.now()
        utc = datetime.now(UTC).isoformat(timespec="milliseconds")
        self.tally.events.append({"utc": utc, "t": round(at, 1), "what": what})
        say(f"{at:6.1f} s  {utc[11:23]} UTC  {what}")

    async def _post_all(self, deliveries: list[Delivery]) -> None:
        gate = asyncio.Semaphore(16)
        tasks = []
        for delivery in deliveries:
            delay = delivery.at - self.clock.now()
            if delay > 0:
                await asyncio.sleep(delay)
            await gate.acquire()
            task = asyncio.create_task(self._post(delivery))
            task.add_done_callback(lambda _: gate.release())
            tasks.append(task)
        await asyncio.gather(*tasks)

    async def _post(self, delivery: Delivery) -> None:
        """POST one webhook; on no answer or a 5xx, retry the same delivery (a shop does, with
        the same webhook id), a bounded number of times."""
        headers = shopify_headers(
            delivery.topic, delivery.body, SECRET, SHOP, delivery.webhook_id, delivery.event_id
        )
        url = f"{self.ingest_web.url}/webhooks/shopify/demo"
        for attempt in range(40):
            try:
                response = await self.http.post(url, content=delivery.body, headers=headers)
                if response.status_code < 500:
                    if response.status_code != 200:
                        say(f"ingest answered {response.status_code} to a {delivery.topic}: "
                            f"{response.text[:200]}")  # fmt: skip
                    self.tally.posted += 1
                    return
            except httpx.HTTPError:
                pass
            self.tally.post_retries += 1
            await asyncio.sleep(min(0.25 * (attempt + 1), 2.0))
        self.tally.post_refused.append(f"{delivery.topic} {delivery.webhook_id}")

    def _schedule(self, count: int, duration: float) -> list[float]:
        return sorted(self.rng.uniform(0.05 * duration, 0.95 * duration) for _ in range(count))

    async def _kill_on_schedule(self, duration: float) -> None:
        plan = sorted(
            (at, service)
            for service in SERVICES
            for at in self._schedule(self.args.kills_per_service, duration)
        )
        for at, service in plan:
            delay = at - self.clock.now()
            if delay > 0:
                await asyncio.sleep(delay)
            proc = self.rng.choice(self.stack.of(service))
            await asyncio.to_thread(proc.kill_and_restart)
            self.tally.kills[service] += 1
            self._event(f"kill -9 {proc.name} (restarted)")

    async def _restart_broker_on_schedule(self, duration: float) -> None:
        count = self.args.broker_restarts
        for n in range(count):
            delay = duration * (n + 1) / (count + 1) - self.clock.now()
            if delay > 0:
                await asyncio.sleep(delay)
            before = await self._queue_depths()
            self._event(f"broker restart (stop_app, start_app); "
                f"queued before: {_waiting(before)}")  # fmt: skip
            down = await asyncio.to_thread(self.stack.broker.restart)
            self.tally.broker_restarts += 1
            self.tally.broker_down_seconds += down
            # Evidence for messages lost over a restart: what the queues hold just after.
            after = await self._queue_depths()
            self.tally.broker_log.append(
                {"at": round(self.clock.now(), 1), "down_seconds": round(down, 1),
                 "queued_before": before, "queued_after": after}
            )  # fmt: skip
            self._event(f"broker back after {down:.1f} s; "
                f"queued after: {_waiting(after)}")  # fmt: skip

    async def _watch(self) -> None:
        """Supervisor and observer: restart what exited by itself; note when each booked
        document first shows in the ledger."""
        last_look = 0.0
        while True:
            for proc in self.stack.procs:
                code = await asyncio.to_thread(proc.restart_if_exited)
                if code is not None:
                    self._event(f"{proc.name} exited by itself ({code}); "
                        "restarted")  # fmt: skip
            if self.clock.now() - last_look >= self._look_interval():
                last_look = self.clock.now()
                try:
                    await self._look_at_ledger()
                except httpx.HTTPError:
                    pass
            await asyncio.sleep(0.25)

    def _look_interval(self) -> float:
        """The sandbox serves its whole state in one answer, from the process that also serves
        the ledger API: look less often as the books grow (1 s up to 500 documents, 15 s from
        7,500), so watching does not slow the ledger down. The time to the last booking is
        as precise as this."""
        return max(1.0, min(15.0, len(self.tally.first_seen) / 500))

    async def _look_at_ledger(self) -> dict[str, Any]:
        state: dict[str, Any] = (
            await self._sandbox("GET", f"/_sandbox/agreements/{self.grant}/state")
        ).json()
        seen = self.clock.now()
        for document in state.get("booked_invoices", []):
            ref = (document.get("references") or {}).get("other") or ""
            self.tally.first_seen.setdefault(f"{ref}#{document['bookedInvoiceNumber']}", seen)
        return state

    # --- settling and judging ---------------------------------------------------------------

    async def _settle(self) -> None:
        """Wait until every order's documents are in the ledger and nothing is in flight (then
        `--grace` seconds more), or until nothing has moved for `--stuck` seconds while work is
        left undone (a lost message does not come back), or `--settle-timeout`."""
        began = self.clock.now()
        deadline = began + self.args.settle_timeout
        quiet_since: float | None = None
        last_move, last_picture = began, None
        while self.clock.now() < deadline:
            ledger = await self._look_at_ledger()
            pending = judge(self.expected, ledger).pending()
            in_flight = await self._in_flight()
            picture = (len(ledger.get("booked_invoices", [])), len(pending), in_flight)
            if picture != last_picture:
                last_picture, last_move = picture, self.clock.now()
            if not pending and not any(in_flight.values()):
                quiet_since = quiet_since or self.clock.now()
                if self.clock.now() - quiet_since >= self.args.grace:
                    self.tally.settled = True
                    break
            else:
                quiet_since = None
                queued = any(n for k, n in in_flight.items() if k.startswith("queue "))
                if not queued and self.clock.now() - last_move >= self.args.stuck:
                    self.tally.stuck = True
                    say(f"nothing moved for {self.args.stuck:.0f} s with {len(pending)} orders "
                        "undone and no message queued: judging now")  # fmt: skip
                    break
            await asyncio.sleep(max(2.0, self._look_interval()))
        self.tally.settle_seconds = self.clock.now() - began
        self.tally.queues_at_end = await self._queue_depths()

    async def _queue_depths(self) -> dict[str, int]:
        try:
            depths = await asyncio.wait_for(
                self.stack.broker.queue_depths(self.stack.prefix, SERVICES), 30
            )
        except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
            say(f"could not count queued messages: {exc!r}")
            return {}
        return {name: depth for name, depth in depths.items() if depth}

    async def _in_flight(self) -> dict[str, int]:
        """What is still moving: orders per in-between status at ingest, messages per work or
        retry queue (parked ones excluded: they do not move by themselves)."""
        found: dict[str, int] = {}
        for status in IN_FLIGHT:
            answer = await self._ingest("GET", "/orders", params={"status": status, "limit": 1})
            found[f"status {status}"] = int(answer.json()["total"])
        depths = await self._queue_depths()
        for name, depth in depths.items():
            if not name.endswith(".parked"):
                found[f"queue {name}"] = depth
        return found

    async def judge(self) -> tuple[Verdict, dict[str, Any]]:
        ledger = await self._look_at_ledger()
        statuses = await self._ingest_statuses()
        parked = {service: await self._parked(service) for service in SERVICES}
        calls = (await self._sandbox("GET", "/_sandbox/calls")).json()["calls"]
        return judge(self.expected, ledger, ingest_status=statuses, parked=parked), {
            "ledger_calls": int(calls.get(self.grant, 0)),
            "ingest_statuses": dict(
                sorted(
                    Counter(statuses.get(e.order_key(), "missing") for e in self.expected).items()
                )
            ),
        }

    async def _ingest_statuses(self) -> dict[str, str]:
        found: dict[str, str] = {}
        offset = 0
        while True:  # bounded: total orders / 500 pages
            page = (
                await self._ingest("GET", "/orders", params={"limit": 500, "offset": offset})
            ).json()
            for order in page["orders"]:
                found[order["order_key"]] = order["status"]
            offset += 500
            if offset >= page["total"] or not page["orders"]:
                return found

    async def _parked(self, service: str) -> list[dict[str, Any]]:
        for proc in self.stack.of(service):
            try:
                answer = await self.http.get(
                    f"{proc.url}/parked", params={"limit": 1000}
                )  # the route's maximum
                answer.raise_for_status()
                parked: list[dict[str, Any]] = answer.json()
                return parked
            except httpx.HTTPError:
                continue
        raise RuntimeError(f"no {service} process answered GET /parked")

    async def evidence(self, order_keys: list[str]) -> dict[str, Any]:
        """ingest's view of each order (GET /orders/{key}): status, deliveries, timeline."""
        found: dict[str, Any] = {}
        for key in order_keys:
            answer = await self._ingest("GET", f"/orders/{key}", check=False)
            if answer.status_code != 200:
                found[key] = {"status_code": answer.status_code, "body": answer.text[:500]}
                continue
            order = answer.json()
            order.pop("order", None)  # the canonical order: long, and the shop's copy is ours
            found[key] = order
        return found

    async def _ingest(
        self, method: str, path: str, *, check: bool = True, **kwargs: Any
    ) -> httpx.Response:
        return await self._call(self.stack.of("ingest"), method, path, check=check, **kwargs)

    async def _sandbox(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self._call([self.stack.sandbox], method, path, **kwargs)

    async def _call(
        self, procs: list[Proc], method: str, path: str, *, check: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """Ask any of `procs` (one may be restarting after a kill), for up to 30 s."""
        error: Exception | None = None
        for attempt in range(60):
            proc = procs[attempt % len(procs)]
            try:
                response = await self.http.request(method, proc.url + path, **kwargs)
                if check and response.status_code >= 500:
                    raise httpx.HTTPStatusError("5xx", request=response.request, response=response)
                return response
            except httpx.HTTPError as exc:
                error = exc
                await asyncio.sleep(0.5)
        raise RuntimeError(f"{method} {path}: no answer from {[p.name for p in procs]}: {error}")


# --- report -----------------------------------------------------------------------------------


def figures(run: Run, verdict: Verdict, extra: dict[str, Any], deliveries: int) -> dict[str, Any]:
    tally = run.tally
    last_booked = max(tally.first_seen.values(), default=0.0)
    booked_after = last_booked - tally.last_fault
    late = sum(1 for t in tally.first_seen.values() if t - tally.last_fault > 120)
    return {
        "orders_posted": len(run.expected),
        "deliveries_posted": tally.posted,
        "deliveries_never_accepted": len(tally.post_refused),
        "webhook_retries": tally.post_retries,
        "booked": verdict.booked,
        "cancelled_before_booking": verdict.cancelled_unbooked,
        "lost": verdict.lost,
        "duplicated": verdict.duplicated,
        "wrong_totals": verdict.wrong_totals,
        "over_credited": verdict.over_credited,
        "credits_missing": verdict.credits_missing,
        "parked": verdict.parked,
        "parked_by_service": verdict.parked_by_service,
        "stray_drafts": verdict.stray_drafts,
        "duplicate_customers": verdict.duplicate_customers,
        "ingest_status_behind_ledger": verdict.status_behind,
        "ingest_statuses": extra["ingest_statuses"],
        "kills": tally.kills,
        "restarts": sum(p.starts - 1 for p in run.stack.procs),
        "crashes": {p.name: p.crashes for p in run.stack.procs if p.crashes},
        "broker_restarts": tally.broker_restarts,
        "broker_down_seconds": round(tally.broker_down_seconds, 1),
        "faults_fired": tally.faults_fired,
        "ledger_calls": extra["ledger_calls"],
        "ledger_calls_per_order": round(extra["ledger_calls"] / max(1, len(run.expected)), 2),
        "chaos_seconds": round(tally.chaos_seconds, 1),
        "settled": tally.settled,
        "settle_seconds": round(tally.settle_seconds, 1),
        "last_fault_to_last_booked_seconds": round(booked_after, 1),
        "documents_booked_over_120s_after_last_fault": late,
        "stuck": tally.stuck,
        "queues_at_end": tally.queues_at_end,
        "broker_restart_log": tally.broker_log,
        "events": tally.events,
        "failures": verdict.failures,
        "deliveries_planned": deliveries,
    }


def _waiting(depths: dict[str, int]) -> str:
    return ", ".join(f"{name.split('.', 1)[1]} {n}" for name, n in sorted(depths.items())) or "none"


def print_table(data: dict[str, Any]) -> None:
    rows = [
        ("orders posted", data["orders_posted"]),
        ("webhook deliveries (retries by the shop)",
         f"{data['deliveries_posted']} ({data['webhook_retries']})"),
        ("booked", data["booked"]),
        ("cancelled before booking (no invoice due)", data["cancelled_before_booking"]),
        ("lost", data["lost"]),
        ("duplicated documents", data["duplicated"]),
        ("wrong totals", data["wrong_totals"]),
        ("over-credited", data["over_credited"]),
        ("credit notes missing", data["credits_missing"]),
        ("parked", f"{data['parked']} {data['parked_by_service']}"),
        ("stray drafts in the ledger", data["stray_drafts"]),
        ("duplicate ledger customers (same e-mail)", data["duplicate_customers"]),
        ("kills (kill -9) per service", data["kills"]),
        ("restarts (kills + crashes)", f"{data['restarts']} crashes {data['crashes'] or 0}"),
        ("broker restarts (s down)",
         f"{data['broker_restarts']} ({data['broker_down_seconds']} s)"),
        ("ledger faults fired", data["faults_fired"]),
        ("ledger calls per order", f"{data['ledger_calls_per_order']} "
                                   f"({data['ledger_calls']} calls)"),
        ("last fault -> last document booked", f"{data['last_fault_to_last_booked_seconds']} s"),
        ("settled", f"{data['settled']} after {data['settle_seconds']} s"
                    + (" (stuck: nothing moved)" if data["stuck"] else "")),
        ("queued at the end", _waiting(data["queues_at_end"])),
    ]  # fmt: skip
    width = max(len(label) for label, _ in rows)
    print()
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    print()


def print_problems(verdict: Verdict, evidence: dict[str, Any], limit: int) -> None:
    for problem in verdict.problems[:limit]:
        print(f"  {problem.figure:<16} {problem.order_key}: {problem.detail}")
        order = evidence.get(problem.order_key)
        if isinstance(order, dict) and "timeline" in order:
            print(f"      ingest status {order.get('status')} ({order.get('status_reason')})")
            for entry in order["timeline"][-8:]:
                print(f"      {entry['at'][11:23]} {entry['service']:<10} {entry['step']:<22} "
                      f"{entry['message'][:110]}")  # fmt: skip
    if len(verdict.problems) > limit:
        print(f"  ... and {len(verdict.problems) - limit} more (see the report file)")


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--orders", type=int, default=100, help="orders to post")
    parser.add_argument("--kills-per-service", type=int, default=3,
                        help="kill -9 per service (ingest, customers, invoicing, inventory)")  # fmt: skip
    parser.add_argument("--broker-restarts", type=int, default=1)
    parser.add_argument("--rate", type=float, default=5.0, help="orders per second")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds of chaos (default: orders / rate)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--replicas", type=int, default=2, help="of customers and of invoicing")
    parser.add_argument("--settle-timeout", type=float, default=300.0,
                        help="seconds to wait after the last fault")  # fmt: skip
    # Longer than ingest's stalled-order sweep needs (60 s of quiet, checked every 15 s) to send
    # on an order whose message the broker dropped: judging earlier would count it as lost.
    parser.add_argument("--stuck", type=float, default=90.0,
                        help="stop waiting when nothing moved for this long, no message queued")  # fmt: skip
    parser.add_argument("--grace", type=float, default=5.0,
                        help="seconds everything must stay settled before judging")  # fmt: skip
    parser.add_argument("--no-faults", dest="faults", action="store_false",
                        help="no ledger faults (kills and broker restarts still happen)")  # fmt: skip
    parser.add_argument("--broker", choices=("private", "shared"), default="private",
                        help="private: a RabbitMQ node of the run's own, restarted freely; "
                             "shared: the machine's node on 5672 (restarting it hits every user)")  # fmt: skip
    parser.add_argument("--keep", action="store_true",
                        help="keep the databases, the broker node's data and the run folder")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--evidence", type=int, default=20,
                        help="failing orders to fetch the timeline of")  # fmt: skip
    args = parser.parse_args(argv)
    if args.orders < 1 or args.rate <= 0:
        parser.error("--orders must be at least 1 and --rate above 0")
    args.duration = args.duration or max(10.0, args.orders / args.rate)
    args.run = datetime.now(UTC).strftime("%m%d%H%M%S")
    args.grant = f"chaos-{args.run}"
    return args


async def run_chaos(args: argparse.Namespace) -> int:
    folder = ROOT / "data" / "chaos" / args.run
    folder.mkdir(parents=True, exist_ok=True)
    expected, deliveries = build_run(args.orders, seed=args.seed, duration=args.duration)
    say(f"run {args.run}: {len(expected)} orders, {len(deliveries)} deliveries over "
        f"{args.duration:.0f} s; {args.kills_per_service} kills per service, "
        f"{args.broker_restarts} broker restarts, faults {'on' if args.faults else 'off'}; "
        f"folder {folder.relative_to(ROOT)}")  # fmt: skip
    broker = Broker.private(args.run, folder) if args.broker == "private" else Broker.shared()
    names = [f"chaos_{args.run}_{service}" for service in SERVICES]
    stack = Stack(args.run, folder, broker, secrets.token_urlsafe(18), f"chaos{args.run}")
    status = 2
    try:
        await asyncio.to_thread(broker.start)
        urls = await create_databases(names)
        stack.database_names = names
        stack.build(
            replicas=args.replicas,
            database_urls={s: urls[f"chaos_{args.run}_{s}"] for s in SERVICES},
            grant=args.grant,
        )
        await asyncio.to_thread(stack.start)
        say("stack ready: " + ", ".join(f"{p.name}:{p.port}" for p in stack.procs))
        run = Run(args, stack, expected)
        try:
            await run.chaos(deliveries, args.duration)
            verdict, extra = await run.judge()
            data = figures(run, verdict, extra, len(deliveries))
            evidence = await run.evidence(
                list(dict.fromkeys(p.order_key for p in verdict.problems))[: args.evidence]
            )
        finally:
            await run.http.aclose()
        print_table(data)
        print_problems(verdict, evidence, limit=40)
        report = {
            "run": args.run,
            "args": {k: str(v) for k, v in vars(args).items()},
            "figures": data,
            "problems": [asdict(p) for p in verdict.problems],
            "evidence": evidence,
        }
        (folder / "report.json").write_text(json.dumps(report, indent=2, default=_plain))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(data, indent=2, default=_plain))
        failing = {name: data[name] for name in FAILURE_FIGURES if data[name]}
        if data["deliveries_never_accepted"]:
            failing["deliveries_never_accepted"] = data["deliveries_never_accepted"]
        say(f"report: {(folder / 'report.json').relative_to(ROOT)}")
        say("FAILED: " + ", ".join(f"{k} {v}" for k, v in failing.items()) if failing else "OK")
        status = 1 if failing else 0
    finally:
        say("stopping the stack")
        await asyncio.to_thread(stack.stop)
        await asyncio.to_thread(broker.stop)
        if not args.keep:
            if stack.database_names:
                await drop_databases(stack.database_names)
            shutil.rmtree(folder / "rabbitmq" / "mnesia", ignore_errors=True)  # logs stay
        else:
            say(f"kept: databases {', '.join(names)}; broker data in {folder / 'rabbitmq'}")
    return status


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run_chaos(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
