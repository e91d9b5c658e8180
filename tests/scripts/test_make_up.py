"""`make up` as a new user meets it: the README's commands run as written against it, and a
second `make up` finds the ledger the first one left (or starts clean and says so).

The stack is `scripts/stack.py` itself, started as `make up` starts it, on free ports, with a
fresh data folder and broker prefix. The README's shell blocks run in bash exactly as written;
only the default ports are replaced by this run's, and the `make up` line is the stack itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts.stack import PROCESSES, ROOT, Stack, http_on_loopback
from tests.platforms.factories import shopify_headers, shopify_json, shopify_order
from tests.support import services
from tests.support.broker import delete_prefix, queue_depth

pytestmark = pytest.mark.slow

README = ROOT / "README.md"
HKD_KEY = "shopify:my-shop.myshopify.com:6198432301356"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def readme_shell_blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", README.read_text(), flags=re.S | re.M)


@dataclass
class MakeUp:
    """`make up` (scripts/stack.py) in a working folder with `data` in it, as in a checkout."""

    workdir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    output: Path | None = None

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def port(self, name: str) -> int:
        variable = next(p[2] for p in PROCESSES if p[0] == name)
        return int(self.env[variable])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def start(self) -> str:
        """Start it and wait until it says every service is ready; returns what it said."""
        self.output = self.workdir / f"make-up-{time.monotonic_ns()}.out"
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "scripts" / "stack.py")],
                env=self.env,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while "all services ready" not in (said := self.output.read_text()):
            assert self.process.poll() is None, f"make up exited:\n{said}"
            assert time.monotonic() < deadline, f"make up was not ready in 90 s:\n{said}"
            time.sleep(0.2)
        return said

    def stop(self) -> None:
        """Ctrl-C, as a user stops it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)
        self.process = None

    def get(self, url: str, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def wait_for_status(self, key: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
        token = (self.data_dir / "admin-token").read_text().strip()
        deadline = time.monotonic() + timeout
        order: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                order = self.get(f"{self.url('ingest')}/orders/{key}", token)
            except urllib.error.HTTPError:
                order = {}
            if order.get("status") == status:
                return order
            time.sleep(0.3)
        raise AssertionError(f"order {key} is not {status}: {order}")


@pytest.fixture
def make_up(tmp_path: Path) -> Iterator[MakeUp]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LEDGERBRIDGE_") or k == "LEDGERBRIDGE_AMQP_URL"
    }
    for _, _, variable, _, _ in PROCESSES:
        env[variable] = str(_free_port())
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env.update(
        LEDGERBRIDGE_DATA_DIR=str(tmp_path / "data"),
        LEDGERBRIDGE_BROKER_PREFIX=prefix,
        LEDGERBRIDGE_RETRY_DELAYS_MS="[300, 600, 1200]",
    )
    running = MakeUp(workdir=tmp_path, env=env)
    try:
        yield running
    finally:
        running.stop()
        asyncio.run(delete_prefix(services.amqp_url(), prefix))


def as_written(block: str, make_up: MakeUp) -> str:
    """The block with this run's ports for the default ones; `make up` is already running."""
    lines = [line for line in block.splitlines() if not line.startswith("make up")]
    script = "\n".join(lines)
    for name, _, _, default, _ in PROCESSES:
        script = script.replace(f"localhost:{default}", f"localhost:{make_up.port(name)}")
    return script


def test_the_readme_commands_run_as_written(make_up: MakeUp) -> None:
    blocks = readme_shell_blocks()
    assert blocks and blocks[0].strip() == "make up", "the README starts with `make up`"
    (make_up.workdir / "tests").symlink_to(ROOT / "tests")  # the README runs in a checkout
    make_up.start()

    outputs = []
    for block in blocks[1:]:
        # Each command's output on its own, to say which one failed.
        commands = re.split(r"(?<!\\)\n", as_written(block, make_up).strip())
        marked = "\n".join(f"{c}\necho; echo '<<end of command>>'" for c in commands)
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", marked],
            cwd=make_up.workdir,
            env=make_up.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, f"{block}\nexit {run.returncode}: {run.stderr}"
        outputs += [o.strip() for o in run.stdout.split("<<end of command>>")[:-1]]

    answers = [json.loads(o) for o in outputs if o]
    accepted = [a for a in answers if isinstance(a, dict) and a.get("status") == "accepted"]
    assert accepted == [{"status": "accepted", "order_key": HKD_KEY}], outputs
    listed = next(a for a in answers if isinstance(a, dict) and "orders" in a)
    assert HKD_KEY in [order["order_key"] for order in listed["orders"]], listed
    one = next(a for a in answers if isinstance(a, dict) and "timeline" in a)
    assert one["order_key"] == HKD_KEY
    assert "webhook.received" in [entry["step"] for entry in one["timeline"]]
    assert any(isinstance(a, dict) and "grantToken" in a for a in answers), outputs

    make_up.wait_for_status(HKD_KEY, "booked")
    ledger = make_up.get(f"{make_up.url('sandbox')}/_sandbox/agreements/demo/state")
    booked = [i for i in ledger["booked_invoices"] if i["references"]["other"] == HKD_KEY]
    assert len(booked) == 1

    # The second shop's webhook subscriptions were made, to ingest's http loopback address
    # (the sandbox takes it only because `make up` told it to).
    north = next(a for a in answers if isinstance(a, dict) and "onboarding" in a)
    subscriptions = north["onboarding"]["webhook_subscriptions"]
    assert subscriptions and {s["state"] for s in subscriptions} == {"created"}, subscriptions
    assert {s["uri"] for s in subscriptions} == {f"{make_up.url('ingest')}/webhooks/shopify/north"}


def test_make_up_lets_the_sandbox_take_http_on_loopback_only_for_an_http_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow = "LEDGERBRIDGE_SANDBOX_SHOPIFY_ALLOW_HTTP_LOOPBACK_WEBHOOKS"
    monkeypatch.delenv(allow, raising=False)
    monkeypatch.delenv("LEDGERBRIDGE_INGEST_PUBLIC_URL", raising=False)
    assert Stack.prepare(data_dir=tmp_path, broker_prefix="p").env[allow] == "true"
    monkeypatch.setenv("LEDGERBRIDGE_INGEST_PUBLIC_URL", "https://bridge.example.com")
    assert allow not in Stack.prepare(data_dir=tmp_path, broker_prefix="p").env
    assert http_on_loopback("http://localhost:8001") and http_on_loopback("http://[::1]:1")
    assert not http_on_loopback("http://10.0.0.1:8001")


def _post(make_up: MakeUp, email: str, sku: str = "MUG-BLACK") -> str:
    body = shopify_json(shopify_order(lines=[{"sku": sku, "price": "75.00"}], email=email))
    request = urllib.request.Request(
        f"{make_up.url('ingest')}/webhooks/shopify/demo",
        data=body,
        headers=shopify_headers("orders/paid", body, "demo-secret"),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["order_key"])


def test_a_second_make_up_has_the_same_ledger_or_starts_clean_and_says_so(
    make_up: MakeUp,
) -> None:
    make_up.start()
    first = make_up.wait_for_status(_post(make_up, "karen@example.com"), "booked")
    parked_key = _post(make_up, "ghost@example.com", sku="GHOST-9")  # unknown SKU: parked
    make_up.wait_for_status(parked_key, "failed")
    make_up.stop()

    # Again on the same data: the ledger still has Karen as customer 1 with her invoice, and
    # the next new buyer gets a new number.
    said = make_up.start()
    assert "sandbox's ledger from the last run is kept" in said
    ledger = make_up.get(f"{make_up.url('sandbox')}/_sandbox/agreements/demo/state")
    karen = next(c for c in ledger["customers"] if c["email"] == "karen@example.com")
    assert karen["customerNumber"] == first["customer_number"]
    assert [i["bookedInvoiceNumber"] for i in ledger["booked_invoices"]] == [
        first["invoice_number"]
    ]
    second = make_up.wait_for_status(_post(make_up, "bo@example.com"), "booked")
    assert second["customer_number"] not in (karen["customerNumber"], None)
    make_up.stop()

    # Without the saved ledger (as with a data folder from before it was kept), what is left
    # would point at customers the new ledger hands to other people: it starts clean, says so,
    # and moves the old data aside rather than deleting it.
    (make_up.data_dir / "sandbox-ledger.json").unlink()
    prefix = make_up.env["LEDGERBRIDGE_BROKER_PREFIX"]
    assert asyncio.run(queue_depth(services.amqp_url(), f"{prefix}.invoicing.parked")) == 1
    said = make_up.start()
    assert "starting clean" in said and "deleted" in said, said
    [aside] = [p for p in make_up.workdir.iterdir() if p.name.startswith("data.")]
    assert (aside / "invoicing.db").exists()
    token = (make_up.data_dir / "admin-token").read_text().strip()
    assert make_up.get(f"{make_up.url('ingest')}/orders", token)["total"] == 0
    assert make_up.get(f"{make_up.url('invoicing')}/parked", token) == []
