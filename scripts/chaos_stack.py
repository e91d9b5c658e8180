"""The scaled-out stack a chaos run starts, breaks and restarts.

- A private RabbitMQ node (its own name, port and data folder under the run folder), so broker
  restarts hit this run only and not every other RabbitMQ user on the machine. `--broker
  shared` uses the machine's node on 5672 instead and restarts *that*.
- A fresh PostgreSQL database per service (chaos_<run>_<service>), dropped at the end.
- The processes, each on its own loopback port: the sandbox, ingest (role web + role worker),
  N replicas of customers and of invoicing, inventory. The supervisor restarts a process at once
  when it is killed, and also when it exits by itself (counted: that is a crash).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import aio_pika.exceptions
import asyncpg

from lb_common.settings import CommonSettings

ROOT = Path(__file__).resolve().parent.parent
PG_HOST = "127.0.0.1:5432"
PG_USERS = ("root", "postgres")  # trust auth: whichever role exists here
# Retry queues are named by their delay; the run keeps the default schedules.
RETRY_DELAYS_MS = tuple(CommonSettings().retry_schedules().queue_delays())


def say(message: str) -> None:
    print(f"[chaos] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# --- RabbitMQ ---------------------------------------------------------------------------------


def _rabbit_bin(name: str) -> str:
    # Debian's /usr/sbin wrappers switch to the rabbitmq user and ignore our environment; the
    # real scripts live here.
    direct = Path("/usr/lib/rabbitmq/bin") / name
    if direct.exists():
        return str(direct)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed; chaos needs a local RabbitMQ installation.")
    return found


@dataclass
class Broker:
    """One RabbitMQ node: start (private only), restart the app, list queue depths, stop."""

    node: str
    port: int
    home: Path | None  # None: the machine's shared node (its own environment)
    restarts: int = 0

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @classmethod
    def private(cls, run: str, folder: Path) -> Broker:
        home = folder / "rabbitmq"
        home.mkdir(parents=True, exist_ok=True)
        return cls(node=f"lbchaos{run}@localhost", port=free_port(), home=home)

    @classmethod
    def shared(cls) -> Broker:
        return cls(node="rabbit@localhost", port=5672, home=None)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.home is None:
            return env
        home = self.home
        (home / "enabled_plugins").write_text("[].\n")
        (home / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (home / "env.conf").touch()
        env.update(
            HOME=str(home),  # Erlang keeps the node's cookie here; rabbitmqctl reads it too
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_DIST_PORT=str(free_port()),
            RABBITMQ_MNESIA_BASE=str(home / "mnesia"),
            RABBITMQ_LOG_BASE=str(home / "log"),
            RABBITMQ_PID_FILE=str(home / "pid"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(home / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(home / "rabbitmq.conf"),
            RABBITMQ_CONF_ENV_FILE=str(home / "env.conf"),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    def ctl(self, *args: str, timeout: float = 60) -> str:
        command = ["rabbitmqctl"] if self.home is None else [_rabbit_bin("rabbitmqctl")]
        result = subprocess.run(
            [*command, "-n", self.node, "-q", *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stderr.strip()[:500]}")
        return result.stdout

    def start(self, timeout: float = 90) -> None:
        if self.home is None:
            if not port_open(self.port):
                raise SystemExit("RabbitMQ does not answer on 127.0.0.1:5672 (--broker shared).")
            return
        if port_open(self.port):
            raise SystemExit(f"port {self.port} is taken; cannot start a private RabbitMQ node")
        subprocess.run([_rabbit_bin("rabbitmq-server"), "-detached"], env=self._env(), check=False)
        self._wait_port(timeout)

    def _wait_port(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"RabbitMQ node {self.node} did not open port {self.port} in {timeout:.0f} s"
                    + (f"; see {self.home}/log" if self.home else "")
                )
            time.sleep(0.5)

    def restart(self, down_seconds: float = 2.0) -> float:
        """stop_app, wait, start_app: every connection drops, queues survive. Returns the time
        the broker was unreachable. On a busy machine stop_app alone can take a minute; the
        app is started again whatever stop_app said, a few times if need be."""
        began = time.monotonic()
        try:
            self.ctl("stop_app", timeout=300)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            say(f"stop_app: {exc}; starting the app again anyway")
        time.sleep(down_seconds)
        for attempt in range(1, 4):
            try:
                self.ctl("start_app", timeout=300)
                break
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                if attempt == 3:
                    raise RuntimeError(f"the broker did not start again: {exc}") from exc
                say(f"start_app: {exc}; trying again")
        self._wait_port(120)
        self.restarts += 1
        return time.monotonic() - began

    async def queue_depths(self, prefix: str, services: tuple[str, ...]) -> dict[str, int]:
        """Messages ready per queue of this run (work, retry steps, parking), by passive
        declares on a connection of its own: cheap, unlike rabbitmqctl, which starts an Erlang
        VM each time. Messages a consumer holds unacknowledged are not counted."""
        names = [
            f"{prefix}.{service}{suffix}"
            for service in services
            for suffix in ("", ".parked", *(f".retry.{ms}ms" for ms in RETRY_DELAYS_MS))
        ]
        depths: dict[str, int] = {}
        connection = await aio_pika.connect(self.amqp_url, timeout=10)
        async with connection:
            channel = await connection.channel()
            for name in names:
                try:
                    queue = await channel.declare_queue(name, passive=True, timeout=10)
                except aio_pika.exceptions.ChannelClosed:  # no such queue (closes the channel)
                    channel = await connection.channel()
                    continue
                depths[name] = int(queue.declaration_result.message_count or 0)
        return depths

    def stop(self) -> None:
        if self.home is None:
            return
        try:
            self.ctl("stop", timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            say(f"could not stop RabbitMQ node {self.node}: {exc}")


# --- PostgreSQL -------------------------------------------------------------------------------


async def _pg_admin() -> asyncpg.Connection:
    errors = []
    for user in PG_USERS:
        try:
            return await asyncpg.connect(f"postgresql://{user}@{PG_HOST}/test", timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            errors.append(f"{user}: {exc!r}")
    raise SystemExit(f"no PostgreSQL at {PG_HOST} (database test): {'; '.join(errors)}")


async def create_databases(names: list[str]) -> dict[str, str]:
    """A fresh database per name; returns SQLAlchemy URLs."""
    admin = await _pg_admin()
    user = admin.get_settings().session_authorization
    try:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return {name: f"postgresql+asyncpg://{user}@{PG_HOST}/{name}" for name in names}


async def drop_databases(names: list[str]) -> None:
    admin = await _pg_admin()
    try:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# --- processes --------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str  # e.g. invoicing-2
    service: str  # ingest, customers, invoicing, inventory, sandbox
    module: str
    port: int
    env: dict[str, str]
    log: Path
    ready_path: str = "/readyz"
    popen: subprocess.Popen[bytes] | None = None
    kills: int = 0
    crashes: int = 0  # exits nobody asked for
    starts: int = 0
    # The killer and the supervisor's check run on threads: one at a time per process, or a
    # kill could be taken for a crash and the process started twice.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:  # the child keeps its own copy of the descriptor
            self.popen = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        self.starts += 1

    def kill_and_restart(self) -> None:
        """kill -9 (no drain, no flush: a crash or an OOM kill), then start again at once."""
        with self.lock:
            assert self.popen is not None
            self.popen.kill()
            self.popen.wait()
            self.kills += 1
            self.start()

    def restart_if_exited(self) -> int | None:
        """The supervisor's check: an exited process is started again; returns its exit code."""
        with self.lock:
            if self.popen is None or self.popen.poll() is None:
                return None
            code = self.popen.returncode
            self.crashes += 1
            self.start()
            return code

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as response:
                return 200 <= response.status < 300
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout: float) -> None:
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            say(f"{self.name} did not stop within {timeout:.0f} s; killing it")
            self.popen.kill()
            self.popen.wait()


@dataclass
class Stack:
    run: str
    folder: Path
    broker: Broker
    admin_token: str
    prefix: str
    procs: list[Proc] = field(default_factory=list)
    database_names: list[str] = field(default_factory=list)

    @property
    def sandbox(self) -> Proc:
        return next(p for p in self.procs if p.service == "sandbox")

    def of(self, service: str) -> list[Proc]:
        return [p for p in self.procs if p.service == service]

    def build(
        self,
        *,
        replicas: int,
        database_urls: dict[str, str],
        grant: str,
        inventory_replicas: int = 1,
    ) -> None:
        sandbox_port = free_port()
        common = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "LEDGERBRIDGE_AMQP_URL": self.broker.amqp_url,
            "LEDGERBRIDGE_BROKER_PREFIX": self.prefix,
            "LEDGERBRIDGE_ADMIN_TOKEN": self.admin_token,
            "LEDGERBRIDGE_DATA_DIR": str(self.folder / "data"),
            "LEDGERBRIDGE_ECONOMIC_BASE_URL": f"http://127.0.0.1:{sandbox_port}/economic",
            "LEDGERBRIDGE_ECONOMIC_AGREEMENT_GRANT_TOKEN": grant,
            "LEDGERBRIDGE_SHOPIFY_ADMIN_BASE_URL": f"http://127.0.0.1:{sandbox_port}/shopify",
            "LEDGERBRIDGE_SANDBOX_PORT": str(sandbox_port),
        }
        logs = self.folder / "logs"
        self.procs.append(
            Proc("sandbox", "sandbox", "lb_sandbox", sandbox_port, common,
                 logs / "sandbox.log", ready_path="/healthz")
        )  # fmt: skip
        layout = [
            ("ingest", "web"),
            ("ingest", "worker"),
            *[("customers", "all")] * replicas,
            *[("invoicing", "all")] * replicas,
            *[("inventory", "all")] * inventory_replicas,
        ]
        counts: dict[str, int] = {}
        for service, role in layout:
            counts[service] = counts.get(service, 0) + 1
            name = f"{service}-{role}" if service == "ingest" else f"{service}-{counts[service]}"
            port = free_port()
            upper = service.upper()
            env = {
                **common,
                "LEDGERBRIDGE_ROLE": role,
                f"LEDGERBRIDGE_{upper}_PORT": str(port),
                f"LEDGERBRIDGE_{upper}_DATABASE_URL": database_urls[service],
            }
            self.procs.append(Proc(name, service, f"lb_{service}", port, env, logs / f"{name}.log"))

    def start(self, timeout: float = 120) -> None:
        self.sandbox.start()
        self.wait_ready([self.sandbox], timeout)
        services = [p for p in self.procs if p.service != "sandbox"]
        # One process per service first: it runs the migrations; its replicas then find the
        # schema in place instead of queueing on the migration lock all at once.
        firsts = {p.service: p for p in reversed(services)}
        for proc in firsts.values():
            proc.start()
        self.wait_ready(list(firsts.values()), timeout)
        rest = [p for p in services if p not in firsts.values()]
        for proc in rest:
            proc.start()
        self.wait_ready(rest, timeout)

    def wait_ready(self, procs: list[Proc], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for proc in procs:
            while not proc.ready():
                assert proc.popen is not None
                if proc.popen.poll() is not None:
                    raise SystemExit(
                        f"{proc.name} exited with {proc.popen.returncode} at start-up; "
                        f"see {proc.log}"
                    )
                if time.monotonic() > deadline:
                    raise SystemExit(f"{proc.name} was not ready within {timeout:.0f} s")
                time.sleep(0.25)

    def stop(self) -> None:
        """SIGTERM every service (they drain and flush), the sandbox last."""
        services = [p for p in self.procs if p.service != "sandbox"]
        for proc in services:
            proc.stop()
        for proc in services:
            proc.wait_stopped(30)
        self.sandbox.stop()
        self.sandbox.wait_stopped(10)
