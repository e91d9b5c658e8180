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

Prints the cases run per route and every failure with schemathesis's reproduction (`curl`);
exits 1 on any failure. Reports (schemathesis's JSON and NDJSON, and a summary) go to
`--report-dir` (default data/fuzz).
"""

from __future__ import annotations

import argparse
import json
import os
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
# `make up` and `make demo` (stack.py is used as it is, not changed).
from demo import demo_orders, post_webhook
from stack import PROCESSES, ROOT, Stack, delete_broker_objects, say

TARGETS = ("ingest", "customers", "invoicing", "inventory", "sandbox")
SEED = 20251117
FULL_EXAMPLES = 200
CI_EXAMPLES = 20
PHASES = "examples,coverage,fuzzing,stateful"
# The sandbox's demo agreement and shop (the services' defaults for connection `demo`).
SANDBOX_HEADERS = {
    "X-AppSecretToken": "demo",
    "X-AgreementGrantToken": "demo",
    "X-Shopify-Access-Token": "demo",
}


@dataclass
class Outcome:
    target: str
    exit_code: int
    cases: dict[str, int] = field(default_factory=dict)  # "METHOD /path" -> cases run
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

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
        # Fault injection exists to make later calls answer 5xx on purpose.
        command += ["--exclude-path-regex", "/faults$"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return command


def run_target(target: str, url: str, args: argparse.Namespace, token: str) -> Outcome:
    out = Path(args.report_dir).resolve()
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
    say(f"fuzzing {target} ({url}), {args.examples} cases per route, seed {args.seed}")
    started = time.monotonic()
    with open(out / f"{target}.log", "w") as log:
        # In the report folder: schemathesis keeps a cache (.schemathesis/) where it runs.
        code = subprocess.run(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=out
        ).returncode
    outcome = Outcome(target, code, seconds=time.monotonic() - started)
    outcome.cases = cases_per_operation(out / f"{target}.ndjson", url)
    log_text = (out / f"{target}.log").read_text(errors="replace")
    if code != 0:
        outcome.failures.append(_failure_section(log_text) or log_text[-3000:])
    return outcome


def documented_operations(url: str) -> set[str]:
    with urllib.request.urlopen(f"{url}/openapi.json", timeout=10) as response:
        spec = json.loads(response.read())
    return {
        f"{method.upper()} {path}"
        for path, item in spec.get("paths", {}).items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }


def cases_per_operation(ndjson: Path, url: str) -> dict[str, int]:
    """Distinct test cases schemathesis ran per documented operation (probes of undocumented
    methods, e.g. TRACE on a GET route, are not counted)."""
    documented = documented_operations(url)
    seen: dict[str, set[str]] = defaultdict(set)
    if ndjson.exists():
        for line in ndjson.read_text().splitlines():
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            for case_id, case in finished["recorder"].get("cases", {}).items():
                value = case["value"]
                seen[f"{value['method'].upper()} {value['path']}"].add(case_id)
    return {op: len(seen.get(op, ())) for op in sorted(documented)}


def _failure_section(log_text: str) -> str | None:
    start = log_text.find("= FAILURES =")
    if start < 0:
        start = log_text.find("= ERRORS =")
    if start < 0:
        return None
    end = log_text.find("= SUMMARY =", start)
    return log_text[log_text.rfind("\n", 0, start) + 1 : end if end > 0 else None].strip()


def report(outcomes: list[Outcome], examples: int, path: Path) -> None:
    print()
    print(f"{'service':<10} {'routes':>6} {'cases':>7} {'fewest':>7}  {'result'}")
    for o in outcomes:
        fewest = min(o.cases.values(), default=0)
        result = "ok" if o.exit_code == 0 else f"FAILED (schemathesis exit {o.exit_code})"
        print(f"{o.target:<10} {len(o.cases):>6} {o.total:>7} {fewest:>7}  {result}")
    print()
    for o in outcomes:
        few = {op: n for op, n in o.cases.items() if n < examples}
        if few:
            # Routes without parameters have few distinct inputs; hypothesis stops early.
            listed = ", ".join(f"{op} {n}" for op, n in few.items())
            print(f"{o.target}: under {examples} cases: {listed}")
    for o in outcomes:
        for failure in o.failures:
            print(f"\n--- {o.target} ---\n{failure}")
    path.write_text(
        json.dumps(
            [
                {
                    "service": o.target,
                    "exit_code": o.exit_code,
                    "seconds": round(o.seconds, 1),
                    "cases": o.cases,
                    "failures": o.failures,
                }
                for o in outcomes
            ],
            indent=2,
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ci", action="store_true", help=f"short pass ({CI_EXAMPLES} cases)")
    parser.add_argument("--examples", type=int, default=None, help="cases per route")
    parser.add_argument("--seed", type=int, default=SEED)
    # One worker: hypothesis's lambda descriptions are not thread-safe (runtime errors seen with 2).
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--only", action="append", choices=TARGETS, help="fuzz these only")
    parser.add_argument("--report-dir", default=str(ROOT / "data" / "fuzz"))
    args = parser.parse_args()
    if args.examples is None:
        args.examples = CI_EXAMPLES if args.ci else FULL_EXAMPLES
    token = f"fuzz-{uuid.uuid4().hex}"
    _prepare_environment(token)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="ledgerbridge-fuzz-") as tmp:
        stack = Stack.prepare(data_dir=Path(tmp), broker_prefix=f"fuzz-{uuid.uuid4().hex[:8]}")
        stack.start()
        try:
            seed(stack)
            for target in args.only or TARGETS:
                outcomes.append(run_target(target, stack.url(target), args, token))
        finally:
            stack.stop()
            delete_broker_objects(stack)
            logs = Path(args.report_dir) / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            for log in (Path(tmp) / "logs").glob("*.log"):
                (logs / log.name).write_bytes(log.read_bytes())
    report(outcomes, args.examples, Path(args.report_dir) / "summary.json")
    failed = [o.target for o in outcomes if o.exit_code != 0]
    say("no server error found" if not failed else f"failures in: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
