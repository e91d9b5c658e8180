"""Start the four services, the console and the sandbox as separate processes, and stop them cleanly.

Used by `make up` (runs until Ctrl-C) and `make demo` (see demo.py). Standard library only, so
it runs before anything of ours is importable.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The sandbox's ledger, in the data folder (see lb_sandbox/persistence.py).
LEDGER_FILE = "sandbox-ledger.json"
SERVICES = ("ingest", "customers", "invoicing", "inventory")

# (name, module, port variable, default port, readiness path)
PROCESSES = (
    ("sandbox", "lb_sandbox", "LEDGERBRIDGE_SANDBOX_PORT", 8100, "/healthz"),
    ("ingest", "lb_ingest", "LEDGERBRIDGE_INGEST_PORT", 8001, "/readyz"),
    ("customers", "lb_customers", "LEDGERBRIDGE_CUSTOMERS_PORT", 8002, "/readyz"),
    ("invoicing", "lb_invoicing", "LEDGERBRIDGE_INVOICING_PORT", 8003, "/readyz"),
    ("inventory", "lb_inventory", "LEDGERBRIDGE_INVENTORY_PORT", 8004, "/readyz"),
    ("console", "lb_console", "LEDGERBRIDGE_CONSOLE_PORT", 8005, "/readyz"),
)


def say(message: str) -> None:
    print(f"[ledgerbridge] {message}", flush=True)


def port_of(variable: str, default: int, env: dict[str, str] | None = None) -> int:
    return int((env if env is not None else os.environ).get(variable, default))


def amqp_reachable(host: str = "127.0.0.1", port: int = 5672) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def ensure_rabbitmq() -> None:
    """Start the local RabbitMQ if it does not answer (it is installed on our machines)."""
    if amqp_reachable():
        return
    server = shutil.which("rabbitmq-server")
    if server is None:
        sys.exit("RabbitMQ does not answer on 127.0.0.1:5672 and rabbitmq-server is not installed.")
    say("RabbitMQ is not running; starting it (rabbitmq-server -detached)")
    subprocess.run([server, "-detached"], check=False)
    for _ in range(60):
        if amqp_reachable():
            return
        time.sleep(1)
    sys.exit("RabbitMQ did not come up within 60 s.")


def http_on_loopback(url: str) -> bool:
    """An http:// address of this machine only (127.0.0.0/8, ::1, localhost)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Stack:
    data_dir: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @classmethod
    def prepare(cls, *, data_dir: Path, broker_prefix: str) -> Stack:
        env = dict(os.environ)
        env.setdefault("LEDGERBRIDGE_ADMIN_TOKEN", secrets.token_urlsafe(18))
        env["LEDGERBRIDGE_DATA_DIR"] = str(data_dir)
        env.setdefault("LEDGERBRIDGE_BROKER_PREFIX", broker_prefix)
        sandbox_port = port_of("LEDGERBRIDGE_SANDBOX_PORT", 8100)
        env.setdefault(
            "LEDGERBRIDGE_ECONOMIC_BASE_URL", f"http://127.0.0.1:{sandbox_port}/economic"
        )
        # Onboarding against the sandbox: e-conomic's grant flow returns to this ingest, and the
        # sandbox's own app (lb_sandbox/settings.py) is the app whose installation URL it is.
        ingest_port = port_of("LEDGERBRIDGE_INGEST_PORT", 8001)
        env.setdefault("LEDGERBRIDGE_INGEST_PUBLIC_URL", f"http://127.0.0.1:{ingest_port}")
        # Shopify (and so the sandbox, by default) takes only https:// webhook addresses; this
        # stack's ingest listens on plain http on loopback, which the sandbox is told to take
        # (LEDGERBRIDGE_SANDBOX_SHOPIFY_ALLOW_HTTP_LOOPBACK_WEBHOOKS, docs/sandbox.md).
        if http_on_loopback(env["LEDGERBRIDGE_INGEST_PUBLIC_URL"]):
            env.setdefault("LEDGERBRIDGE_SANDBOX_SHOPIFY_ALLOW_HTTP_LOOPBACK_WEBHOOKS", "true")
        env.setdefault("LEDGERBRIDGE_INGEST_ECONOMIC_APP_PUBLIC_TOKEN", "sandbox-app-public-token")
        env.setdefault(
            "LEDGERBRIDGE_INGEST_ECONOMIC_INSTALLATION_URL",
            f"http://127.0.0.1:{sandbox_port}/secure/api1/requestaccess.aspx",
        )
        # The sandbox keeps its ledger with the services' data, as a real ledger would.
        env.setdefault("LEDGERBRIDGE_SANDBOX_STATE_FILE", str(data_dir / LEDGER_FILE))
        env.setdefault("PYTHONUNBUFFERED", "1")
        return cls(data_dir=data_dir, env=env)

    @property
    def admin_token(self) -> str:
        return self.env["LEDGERBRIDGE_ADMIN_TOKEN"]

    @property
    def broker_prefix(self) -> str:
        return self.env["LEDGERBRIDGE_BROKER_PREFIX"]

    @property
    def ledger_file(self) -> Path:
        return Path(self.env["LEDGERBRIDGE_SANDBOX_STATE_FILE"])

    @property
    def books_into_sandbox(self) -> bool:
        return self.env["LEDGERBRIDGE_ECONOMIC_BASE_URL"] == self.url("sandbox") + "/economic"

    def url(self, name: str) -> str:
        for proc_name, _, variable, default, _ in PROCESSES:
            if proc_name == name:
                return f"http://127.0.0.1:{port_of(variable, default, self.env)}"
        raise KeyError(name)

    def start(self) -> None:
        ensure_rabbitmq()
        for name, *_ in PROCESSES:
            self.start_one(name)
        self.wait_ready()

    def start_one(
        self, name: str, extra_env: dict[str, str] | None = None, *, label: str | None = None
    ) -> None:
        """Start one process (again); `extra_env` applies to this start only. `label` names a
        second process of the same service (its key in `processes` and its log file)."""
        _, module, variable, default, _ = next(p for p in PROCESSES if p[0] == name)
        env = {**self.env, **(extra_env or {})}
        port = port_of(variable, default, env)
        if port_taken(port):
            self.stop()
            sys.exit(f"port {port} for {name} is taken (another `make up`?); set {variable}.")
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{label or name}.log", "ab") as log:  # the child keeps its own copy
            self.processes[label or name] = subprocess.Popen(
                [sys.executable, "-m", module],
                env=env,
                stdout=log,
                stderr=log,
                cwd=ROOT,
            )

    def stop_one(self, name: str, timeout: float = 30.0) -> None:
        """SIGTERM one process and wait: it drains and flushes its outbox (a deploy, an outage)."""
        proc = self.processes.pop(name)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop within {timeout:.0f} s; killing it")
            proc.kill()
            proc.wait()

    def kill(self, name: str) -> None:
        """SIGKILL: no drain, no flush (what a crash or an OOM kill does)."""
        proc = self.processes.pop(name)
        proc.kill()
        proc.wait()

    def wait_ready(self, *names: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for name, _, _, _, path in PROCESSES:
            if name not in self.processes or (names and name not in names):
                continue
            while True:
                proc = self.processes[name]
                if proc.poll() is not None:
                    self.stop()
                    sys.exit(
                        f"{name} exited with {proc.returncode}; see {self.data_dir}/logs/{name}.log"
                    )
                if _answers(self.url(name) + path):
                    break
                if time.monotonic() > deadline:
                    self.stop()
                    sys.exit(f"{name} was not ready within {timeout:.0f} s")
                time.sleep(0.2)
        if not names:
            say("all services ready: " + ", ".join(f"{n} {self.url(n)}" for n, *_ in PROCESSES))

    def stop(self) -> None:
        """SIGTERM every process (they drain and flush their outbox), then wait."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.processes.items():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop within 30 s; killing it")
                proc.kill()
        self.processes.clear()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def delete_broker_objects(stack: Stack) -> int:
    """Delete the queues and the exchange under the stack's broker prefix; returns how many
    messages they held (parked ones included)."""
    import asyncio

    import aio_pika  # the environment is installed by now (`make up` installs it first)

    from lb_common.settings import CommonSettings

    # One retry queue per distinct delay of the retry schedules (named `retry.<ms>ms`), and the
    # numbered ones of versions before the schedules by cause.
    retry_names = [f"{ms}ms" for ms in CommonSettings().retry_schedules().queue_delays()]
    retry_names += [str(i) for i in range(10)]

    async def delete() -> int:
        amqp_url = stack.env.get("LEDGERBRIDGE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
        connection = await aio_pika.connect(amqp_url)
        dropped = 0
        async with connection:
            channel = await connection.channel()
            for service in SERVICES:
                base = f"{stack.broker_prefix}.{service}"
                retries = (f"{base}.retry.{name}" for name in retry_names)
                for queue in (base, f"{base}.parked", *retries):
                    result = await channel.queue_delete(queue)
                    dropped += getattr(result, "message_count", 0) or 0
            await channel.exchange_delete(f"{stack.broker_prefix}.events")
        return dropped

    return asyncio.run(delete())


def start_clean_unless_the_ledger_was_kept(stack: Stack) -> None:
    """The services' data and queued messages belong to one ledger. When the sandbox is the
    ledger and its saved ledger is missing (a first run, a data folder from before the sandbox
    kept its ledger, a deleted file), what is left of an earlier run would point at customers
    and invoices the new, empty ledger hands out again to other orders: start clean, and say so.
    Nothing is deleted from the data folder: it is moved aside."""
    if not stack.books_into_sandbox:
        return  # a real ledger keeps its own state; so do we
    if stack.ledger_file.exists():
        say(f"the sandbox's ledger from the last run is kept in {stack.ledger_file}")
        return
    earlier = (
        [p for p in stack.data_dir.glob("*") if p.name != "logs"] if stack.data_dir.exists() else []
    )
    if earlier:
        aside = stack.data_dir.with_name(f"{stack.data_dir.name}.{time.strftime('%Y%m%d-%H%M%S')}")
        stack.data_dir.rename(aside)
        say(
            f"{stack.data_dir} held an earlier run's data but no saved sandbox ledger; "
            f"starting clean (the earlier data is in {aside})"
        )
    ensure_rabbitmq()
    dropped = delete_broker_objects(stack)
    if dropped:
        say(
            f"deleted {dropped} message(s) an earlier run left in RabbitMQ under prefix "
            f"'{stack.broker_prefix}' (retries and parked messages for the ledger that is gone)"
        )


def write_token_file(stack: Stack) -> Path:
    """The admin token where a second terminal can read it (`TOKEN=$(cat data/admin-token)`),
    readable by this user only."""
    path = stack.data_dir / "admin-token"
    stack.data_dir.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(stack.admin_token + "\n")
    return path


def up() -> None:
    # `make up` uses ./data and the prefix `ledgerbridge`; the environment may say otherwise.
    data_dir = Path(os.environ.get("LEDGERBRIDGE_DATA_DIR", ROOT / "data")).resolve()
    stack = Stack.prepare(data_dir=data_dir, broker_prefix="ledgerbridge")
    for name, _, variable, default, _ in PROCESSES:  # before anything of a running one is moved
        port = port_of(variable, default, stack.env)
        if port_taken(port):
            sys.exit(f"port {port} for {name} is taken (another `make up`?); set {variable}.")
    start_clean_unless_the_ledger_was_kept(stack)
    token_file = write_token_file(stack)
    stack.start()
    say(f"admin token: {stack.admin_token}  (also in {token_file}; Authorization: Bearer <token>)")
    say(f"webhooks: POST {stack.url('ingest')}/webhooks/shopify/demo (secret: demo-secret)")
    say(
        f"data: {stack.data_dir}, the sandbox's ledger included ({stack.ledger_file.name}); "
        f"logs: {stack.data_dir}/logs; Ctrl-C stops everything"
    )
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        while not stopping:
            for name, proc in stack.processes.items():
                if proc.poll() is not None:
                    say(f"{name} exited with {proc.returncode}; stopping the rest")
                    stopping = True
            time.sleep(0.5)
    finally:
        say("stopping")
        stack.stop()


if __name__ == "__main__":
    up()
