"""`make fuzz-api`: every admin API, and the sandbox, fuzzed from its own OpenAPI (issue #17).

Starts the stack the way `make up` does (scripts/stack.py: the four services and the sandbox as
separate processes, SQLite files in a throwaway folder, RabbitMQ under a throwaway prefix),
books the demo orders so the lists hold real rows, then runs schemathesis against each
`/openapi.json` with the admin token, a fixed seed and every phase (examples, coverage,
fuzzing, and stateful: the OpenAPI links from list routes to item routes feed real ids on).
The bar: no input gives a server error (`not_a_server_error`), and every error the sandbox
answers has the vendor's documented shape (scripts/fuzz_checks.py).

    .venv/bin/python scripts/fuzz_api.py                 # the full run: 200 cases per route
    .venv/bin/python scripts/fuzz_api.py --ci            # the short pass CI runs
    .venv/bin/python scripts/fuzz_api.py --only ingest --examples 50
    .venv/bin/python scripts/fuzz_api.py --stores postgresql

`--stores` picks the services' stores, one whole run each (the sandbox, which keeps no
database, on the first only): SQLite files (the default store) and PostgreSQL (a fresh database
per service on 127.0.0.1:5432, dropped afterwards; PostgreSQL is the stricter one: no NUL
character in text, 32-bit INTEGER columns).

Prints the cases run per route and every failure with schemathesis's reproduction (`curl`);
exits 1 on any failure. Reports (schemathesis's JSON and NDJSON, and a summary) go to
`--report-dir` (default data/fuzz).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a file: scripts/ is on sys.path, so stack.py and demo.py import as they do for
# `make up` and `make demo` (stack.py is used as it is, not changed), and chaos_stack.py's
# PostgreSQL helpers as `make chaos` uses them.
from chaos_stack import Broker, create_databases, drop_databases
from demo import demo_orders, post_webhook
from stack import PROCESSES, ROOT, Stack, delete_broker_objects, ensure_rabbitmq, say

TARGETS = ("ingest", "customers", "invoicing", "inventory", "sandbox")
STORES = ("sqlite", "postgresql")
# The processes that keep a database (the console too: sessions and its audit trail).
DATABASES = ("ingest", "customers", "invoicing", "inventory", "console")
SEED = 20251117
FULL_EXAMPLES = 200
CI_EXAMPLES = 20
CI_STORES = ("postgresql",)
READY_TIMEOUT = 240.0
# The sandbox's fault injection exists to make later calls answer 5xx on purpose: not fuzzed.
EXCLUDED_SANDBOX_PATHS = "/faults$"
PHASES = "examples,coverage,fuzzing,stateful"
# The sandbox's demo agreement and shop (the services' defaults for connection `demo`).
SANDBOX_HEADERS = {
    "X-AppSecretToken": "demo",
    "X-AgreementGrantToken": "demo",
    "X-Shopify-Access-Token": "demo",
}


@dataclass
class Outcome:
    store: str
    target: str
    exit_code: int
    cases: dict[str, int] = field(default_factory=dict)  # "METHOD /path" -> cases run
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    server_errors: int = 0  # answers with a 5xx status
    no_input: set[str] = field(default_factory=set)  # operations without any parameter or body

    @property
    def fewest(self) -> int:
        """The fewest cases any route that takes input got."""
        return min((n for op, n in self.cases.items() if op not in self.no_input), default=0)

    @property
    def total(self) -> int:
        return sum(self.cases.values())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _prepare_environment(admin_token: str) -> None:
    """Free ports for every process (a `make up` may be running), the token, and the shop
    emulation on the sandbox's port."""
    for _, _, variable, _, _ in PROCESSES:
        os.environ[variable] = str(_free_port())
    sandbox = os.environ["LEDGERBRIDGE_SANDBOX_PORT"]
    os.environ["LEDGERBRIDGE_SHOPIFY_ADMIN_BASE_URL"] = f"http://127.0.0.1:{sandbox}/shopify"
    os.environ["LEDGERBRIDGE_ECONOMIC_BASE_URL"] = f"http://127.0.0.1:{sandbox}/economic"
    os.environ["LEDGERBRIDGE_ADMIN_TOKEN"] = admin_token


def _get_json(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def seed(stack: Stack, timeout: float = 90.0) -> None:
    """The demo orders, booked: orders, deliveries, customer links, invoices and stock to
    follow the links to."""
    keys = [
        post_webhook(stack, "demo", body)["order_key"]
        for connection, _, body in demo_orders()
        if connection == "demo"  # the second shop's connection is not made here
    ]
    deadline = time.monotonic() + timeout
    pending = set(keys)
    while pending and time.monotonic() < deadline:
        for key in sorted(pending):
            order = _get_json(f"{stack.url('ingest')}/orders/{key}", stack.admin_token)
            if order and order.get("status") in ("booked", "failed"):
                pending.discard(key)
        time.sleep(0.3)
    say(
        f"seeded {len(keys) - len(pending)} booked order(s)"
        + (f", {len(pending)} not" * bool(pending))
    )


def _schemathesis(
    target: str, url: str, *, token: str, examples: int, seed_value: int, workers: int, out: Path
) -> list[str]:
    headers = SANDBOX_HEADERS if target == "sandbox" else {"Authorization": f"Bearer {token}"}
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
        "--checks", "not_a_server_error" + (",sandbox_error_shape" if target == "sandbox" else ""),
        "--phases", PHASES,
        "--max-examples", str(examples),
        "--seed", str(seed_value),
        "--workers", str(workers),
        "--generation-database", "none",
        "--request-timeout", "30",
        "--no-color",
        "--report", "json,ndjson",
        "--report-json-path", str(out / f"{target}.json"),
        "--report-ndjson-path", str(out / f"{target}.ndjson"),
    ]  # fmt: skip
    if target == "sandbox":
        command += ["--exclude-path-regex", EXCLUDED_SANDBOX_PATHS]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return command


def run_target(store: str, target: str, url: str, args: argparse.Namespace, token: str) -> Outcome:
    out = (Path(args.report_dir) / store).resolve()
    out.mkdir(parents=True, exist_ok=True)
    command = _schemathesis(
        target,
        url,
        token=token,
        examples=args.examples,
        seed_value=args.seed,
        workers=args.workers,
        out=out,
    )
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_checks"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "scripts"), env.get("PYTHONPATH", "")])
    say(f"fuzzing {target} on {store} ({url}), {args.examples} cases per route, seed {args.seed}")
    started = time.monotonic()
    with open(out / f"{target}.log", "w") as log:
        # In the report folder: schemathesis keeps a cache (.schemathesis/) where it runs.
        code = subprocess.run(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=out
        ).returncode
    outcome = Outcome(store, target, code, seconds=time.monotonic() - started)
    outcome.cases, outcome.server_errors = cases_per_operation(out / f"{target}.ndjson", url)
    if target == "sandbox":
        outcome.cases = {
            op: n
            for op, n in outcome.cases.items()
            if not re.search(EXCLUDED_SANDBOX_PATHS, op.split(" ", 1)[1])
        }
    outcome.no_input = without_input(url)
    log_text = (out / f"{target}.log").read_text(errors="replace")
    if code != 0:
        outcome.failures.append(_failure_section(log_text) or log_text[-3000:])
    return outcome


def documented_operations(url: str) -> dict[str, bool]:
    """Each documented operation, and whether it takes any input (a parameter or a body): one
    without input has a single possible request, so no run gives it 200 distinct cases."""
    with urllib.request.urlopen(f"{url}/openapi.json", timeout=10) as response:
        spec = json.loads(response.read())
    return {
        f"{method.upper()} {path}": bool(
            operation.get("parameters") or item.get("parameters") or operation.get("requestBody")
        )
        for path, item in spec.get("paths", {}).items()
        for method, operation in item.items()
        if method in ("get", "put", "post", "delete", "patch")
    }


def cases_per_operation(ndjson: Path, url: str) -> tuple[dict[str, int], int]:
    """Distinct test cases schemathesis ran per documented operation (probes of undocumented
    methods, e.g. TRACE on a GET route, are not counted), and how many answers were a 5xx."""
    documented = documented_operations(url)
    seen: dict[str, set[str]] = defaultdict(set)
    server_errors = 0
    if ndjson.exists():
        for line in ndjson.read_text().splitlines():
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished["recorder"]
            for case_id, case in recorder.get("cases", {}).items():
                value = case["value"]
                seen[f"{value['method'].upper()} {value['path']}"].add(case_id)
            for interaction in recorder.get("interactions", {}).values():
                response = interaction.get("response") or {}
                server_errors += response.get("status_code", 0) >= 500
    return {op: len(seen.get(op, ())) for op in sorted(documented)}, server_errors


def without_input(url: str) -> set[str]:
    return {op for op, takes_input in documented_operations(url).items() if not takes_input}


def _failure_section(log_text: str) -> str | None:
    start = log_text.find("= FAILURES =")
    if start < 0:
        start = log_text.find("= ERRORS =")
    if start < 0:
        return None
    end = log_text.find("= SUMMARY =", start)
    return log_text[log_text.rfind("\n", 0, start) + 1 : end if end > 0 else None].strip()


def report(outcomes: list[Outcome], examples: int, path: Path) -> str:
    """The figures, as printed and as written next to the JSON summary (`summary.txt`)."""
    lines = [f"{'store':<11} {'service':<10} {'routes':>6} {'cases':>7} {'fewest':>7}  result"]
    for o in outcomes:
        result = "ok" if o.exit_code == 0 else f"FAILED (schemathesis exit {o.exit_code})"
        lines.append(
            f"{o.store:<11} {o.target:<10} {len(o.cases):>6} {o.total:>7} {o.fewest:>7}  {result}"
        )
    every = [n for o in outcomes for n in o.cases.values()]
    fewest = min((o.fewest for o in outcomes), default=0)
    lines.append(
        f"{len(every)} routes fuzzed (over {len({o.store for o in outcomes})} store(s)), "
        f"{sum(every)} cases, fewest cases per route that takes input {fewest} "
        f"(target {examples}), server errors {sum(o.server_errors for o in outcomes)}"
    )
    lines.append(
        "`fewest` leaves out routes without any parameter or body (one possible request); the "
        "sandbox's fault injection routes are not fuzzed (they make later calls fail on purpose)."
    )
    lines.append("")
    lines.append("cases per route:")
    for o in outcomes:
        for op, n in o.cases.items():
            if op in o.no_input:
                mark = "  (no input)"
            else:
                mark = f"  (under {examples})" if n < examples else ""
            lines.append(f"  {o.store:<11} {o.target:<10} {n:>5}  {op}{mark}")
    for o in outcomes:
        for failure in o.failures:
            lines.append(f"\n--- {o.target} on {o.store} ---\n{failure}")
    text = "\n".join(lines)
    print()
    print(text)
    path.with_suffix(".txt").write_text(text + "\n")
    path.write_text(
        json.dumps(
            {
                "cases_per_route_target": examples,
                "fewest_cases_per_route_with_input": fewest,
                "cases": sum(every),
                "server_errors": sum(o.server_errors for o in outcomes),
                "runs": [
                    {
                        "store": o.store,
                        "service": o.target,
                        "exit_code": o.exit_code,
                        "seconds": round(o.seconds, 1),
                        "server_errors": o.server_errors,
                        "fewest_cases_per_route_with_input": o.fewest,
                        "routes_without_input": sorted(o.no_input),
                        "cases": o.cases,
                        "failures": o.failures,
                    }
                    for o in outcomes
                ],
            },
            indent=2,
        )
    )
    return text


def run_store(
    store: str, targets: list[str], args: argparse.Namespace, token: str
) -> list[Outcome]:
    """One whole run: a fresh stack on `store`, seeded, each of `targets` fuzzed."""
    run = uuid.uuid4().hex[:8]
    databases = [f"fuzz_{run}_{name}" for name in DATABASES] if store == "postgresql" else []
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="ledgerbridge-fuzz-") as tmp:
        stack = Stack.prepare(data_dir=Path(tmp), broker_prefix=f"fuzz-{run}")
        if databases:
            urls = asyncio.run(create_databases(databases))
            for name, database in zip(DATABASES, databases, strict=True):
                stack.env[f"LEDGERBRIDGE_{name.upper()}_DATABASE_URL"] = urls[database]
        say(f"store: {store}" + (f" (databases fuzz_{run}_*)" if databases else ""))
        broker = Broker.private(run, Path(tmp)) if args.broker == "private" else None
        try:
            if broker is not None:
                broker.start()
                stack.env["LEDGERBRIDGE_AMQP_URL"] = broker.amqp_url
            else:
                ensure_rabbitmq()
            for name, *_ in PROCESSES:
                stack.start_one(name)
            # Longer than `make up` waits: a fuzz run often shares the machine (CI, a second run).
            stack.wait_ready(timeout=READY_TIMEOUT)
            seed(stack)
            for target in targets:
                outcomes.append(run_target(store, target, stack.url(target), args, token))
        finally:
            stack.stop()
            logs = Path(args.report_dir) / store / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            for log in (Path(tmp) / "logs").glob("*.log"):
                (logs / log.name).write_bytes(log.read_bytes())
            if databases:
                asyncio.run(drop_databases(databases))
            if broker is not None:
                broker.stop()  # its queues go with its folder
            else:
                delete_broker_objects(stack)
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ci", action="store_true", help=f"short pass ({CI_EXAMPLES} cases)")
    parser.add_argument("--examples", type=int, default=None, help="cases per route")
    parser.add_argument("--seed", type=int, default=SEED)
    # One worker: hypothesis's lambda descriptions are not thread-safe (runtime errors seen with 2).
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--only", action="append", choices=TARGETS, help="fuzz these only")
    parser.add_argument(
        "--stores",
        default=None,
        help="comma-separated, from sqlite,postgresql (default: both; --ci: "
        f"{','.join(CI_STORES)}; env LEDGERBRIDGE_FUZZ_STORES)",
    )
    parser.add_argument(
        "--broker",
        choices=("shared", "private"),
        default="shared",
        help="the machine's RabbitMQ on 5672 (queues under a throwaway prefix), or a private "
        "node of this run's own, as make chaos starts (for a machine whose broker is busy)",
    )
    parser.add_argument("--report-dir", default=str(ROOT / "data" / "fuzz"))
    args = parser.parse_args()
    if args.examples is None:
        args.examples = CI_EXAMPLES if args.ci else FULL_EXAMPLES
    chosen = args.stores or os.environ.get("LEDGERBRIDGE_FUZZ_STORES")
    stores = chosen.split(",") if chosen else list(CI_STORES if args.ci else STORES)
    unknown = [s for s in stores if s not in STORES]
    if unknown:
        parser.error(f"unknown store(s) {', '.join(unknown)}: choose from {', '.join(STORES)}")
    token = f"fuzz-{uuid.uuid4().hex}"
    _prepare_environment(token)
    outcomes: list[Outcome] = []
    for index, store in enumerate(stores):
        targets = list(args.only or TARGETS)
        if index > 0 and "sandbox" in targets and len(targets) > 1:
            # The sandbox keeps no database: fuzzing it again on another store repeats the run.
            targets.remove("sandbox")
        outcomes += run_store(store, targets, args, token)
    Path(args.report_dir).mkdir(parents=True, exist_ok=True)
    report(outcomes, args.examples, Path(args.report_dir) / "summary.json")
    failed = [f"{o.target} on {o.store}" for o in outcomes if o.exit_code != 0]
    say("no server error found" if not failed else f"failures in: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
