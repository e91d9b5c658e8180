"""The whole system in one test process: four services on the real RabbitMQ, each with its own
database (a SQLite file, or a PostgreSQL database when the test runs on that store: see
tests/support/stores.py), all booking into their own sandbox agreement (reached in-process over
ASGI).

Services run their real composition roots (bootstrap.py) and runtimes; only the HTTP servers
are skipped: the test talks to each FastAPI app through httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from lb_common.runtime import ServiceRuntime
from lb_common.settings import CommonSettings
from lb_customers.bootstrap import bootstrap as customers_bootstrap
from lb_customers.settings import CustomersSettings
from lb_ingest.bootstrap import bootstrap as ingest_bootstrap
from lb_ingest.settings import IngestSettings
from lb_inventory.bootstrap import bootstrap as inventory_bootstrap
from lb_inventory.settings import InventorySettings
from lb_invoicing.bootstrap import bootstrap as invoicing_bootstrap
from lb_invoicing.settings import InvoicingSettings
from tests.platforms.factories import shopify_headers
from tests.support.stores import Store

ADMIN_TOKEN = "test-admin-token"
TEST_RETRY = {
    "retry_contention": "100ms x20",
    "retry_ledger_unavailable": "200ms, 500ms, 1s",
    "retry_rate_limited": "200ms, 500ms, 1s",
    "retry_unexpected": "200ms, 500ms, 1s",
    "ledger_call_backoff_ms": 20,
}
DEMO_SECRET = "demo-secret"

#: The running test's store (set by the `store` fixture); None: SQLite files in the data dir.
_test_store: Store | None = None


@contextlib.contextmanager
def default_store(store: Store) -> Iterator[None]:
    """Make `running_system` use `store` unless it is given one."""
    global _test_store
    previous, _test_store = _test_store, store
    try:
        yield
    finally:
        _test_store = previous


def common_settings(
    amqp_url: str, prefix: str, data_dir: Path, grant: str, shop_token: str | None = None
) -> CommonSettings:
    return CommonSettings(
        amqp_url=SecretStr(amqp_url),
        broker_prefix=prefix,
        admin_token=SecretStr(ADMIN_TOKEN),
        data_dir=data_dir,
        # Short schedules so a test sees retries and parking in seconds (see TEST_RETRY).
        **TEST_RETRY,
        economic_base_url="http://sandbox/economic",
        economic_app_secret_token=SecretStr("test-app"),
        economic_agreement_grant_token=SecretStr(grant),
        shopify_admin_base_url="http://sandbox/shopify",
        shopify_access_token=SecretStr(shop_token or f"shop-{grant}"),
    )


@dataclass
class System:
    common: CommonSettings
    sandbox_app: Any
    #: Where the services keep their data; None: a SQLite file each in the data dir.
    store: Store | None = None
    #: IngestSettings fields to set (e.g. a short stall time).
    ingest_overrides: dict[str, Any] = field(default_factory=dict)
    inventory_overrides: dict[str, Any] = field(default_factory=dict)
    runtimes: dict[str, ServiceRuntime] = field(default_factory=dict)
    apps: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    #: Each service's app as an in-process transport (e.g. where the sandbox's Keap posts hooks).
    transports: dict[str, httpx.ASGITransport] = field(default_factory=dict)

    @property
    def grant(self) -> str:
        return self.common.economic_agreement_grant_token.get_secret_value()

    @property
    def shop_token(self) -> str:
        return self.common.shopify_access_token.get_secret_value()

    @property
    def ledger_transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.sandbox_app)

    async def start(self, *names: str) -> None:
        for name in names or ("ingest", "customers", "invoicing", "inventory"):
            url = await self.store.url(name) if self.store is not None else None
            runtime = ServiceRuntime(self._parts(name, url))
            await runtime.start()
            self.runtimes[name] = runtime
            self.transports[name] = httpx.ASGITransport(app=runtime.parts.app_factory())
            self.apps[name] = httpx.AsyncClient(
                transport=self.transports[name],
                base_url=f"http://{name}",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )

    def _parts(self, name: str, database_url: str | None):
        c = self.common
        if name == "ingest":
            # Reconciliation asks the (sandbox) shop; tests of ingest alone run without one.
            shop = self.ledger_transport if self.sandbox_app is not None else None
            return ingest_bootstrap(
                IngestSettings(common=c, database_url=database_url, **self.ingest_overrides),
                shop_transport=shop,
                ledger_transport=shop,
            )
        transport = self.ledger_transport
        if name == "customers":
            return customers_bootstrap(
                CustomersSettings(common=c, database_url=database_url), ledger_transport=transport
            )
        if name == "invoicing":
            return invoicing_bootstrap(
                InvoicingSettings(common=c, database_url=database_url), ledger_transport=transport
            )
        return inventory_bootstrap(
            InventorySettings(common=c, database_url=database_url, **self.inventory_overrides),
            ledger_transport=transport,
            shop_transport=transport,
        )

    async def stop(self, *names: str) -> None:
        for name in names or list(self.runtimes):
            runtime = self.runtimes.pop(name)
            await runtime.stop()
            await self.apps.pop(name).aclose()
            self.transports.pop(name, None)

    # --- what a shop and an operator do --------------------------------------------------

    async def post_shopify(
        self,
        topic: str,
        body: bytes,
        *,
        secret: str = DEMO_SECRET,
        connection: str = "demo",
        webhook_id: str | None = None,
        **header_overrides: str,
    ) -> httpx.Response:
        headers = shopify_headers(topic, body, secret, webhook_id=webhook_id)
        headers.update(header_overrides)
        return await self.apps["ingest"].post(
            f"/webhooks/shopify/{connection}", content=body, headers=headers
        )

    async def order(self, order_key: str) -> dict[str, Any]:
        response = await self.apps["ingest"].get(f"/orders/{order_key}")
        response.raise_for_status()
        return response.json()

    async def wait_for_status(
        self, order_key: str, *statuses: str, timeout: float = 20.0
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: dict[str, Any] = {}
        while loop.time() < deadline:
            response = await self.apps["ingest"].get(f"/orders/{order_key}")
            if response.status_code == 200:
                last = response.json()
                if last["status"] in statuses:
                    return last
            await asyncio.sleep(0.1)
        raise AssertionError(
            f"order {order_key} did not reach {statuses}; last seen: "
            f"{last.get('status')} {last.get('status_reason')} {last.get('timeline')}"
        )

    async def wait_for_steps(
        self, order_key: str, *steps: str, timeout: float = 20.0
    ) -> dict[str, Any]:
        """The order once its timeline has every one of `steps`: timeline entries come from
        every service's outbox and may arrive after the status they led to."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen: list[str] = []
        while loop.time() < deadline:
            order = await self.order(order_key)
            seen = [entry["step"] for entry in order["timeline"]]
            if set(steps) <= set(seen):
                return order
            await asyncio.sleep(0.1)
        raise AssertionError(f"order {order_key} lacks {set(steps) - set(seen)}; saw {seen}")

    async def ledger_state(self) -> dict[str, Any]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.sandbox_app), base_url="http://sandbox"
        ) as client:
            response = await client.get(f"/_sandbox/agreements/{self.grant}/state")
            response.raise_for_status()
            return response.json()

    def sandbox(self) -> httpx.AsyncClient:
        """A client for the sandbox itself (its /_sandbox admin, /economic and /shopify APIs)."""
        return httpx.AsyncClient(transport=self.ledger_transport, base_url="http://sandbox")


@contextlib.asynccontextmanager
async def running_system(
    amqp_url: str,
    prefix: str,
    data_dir: Path,
    *services: str,
    sandbox_settings: Any = None,
    common_overrides: dict[str, Any] | None = None,
    store: Store | None = None,
    ingest_overrides: dict[str, Any] | None = None,
    inventory_overrides: dict[str, Any] | None = None,
) -> AsyncIterator[System]:
    """The named services (default: all four) running until the block ends. Databases come from
    `store`, else from the test's `store` fixture, else SQLite files in `data_dir`."""
    sandbox_app = None
    if set(services or ("customers",)) - {"ingest"}:  # only ledger-facing services need it
        from lb_sandbox.app import create_app

        sandbox_app = create_app(sandbox_settings)
    system = System(
        common=common_settings(amqp_url, prefix, data_dir, f"grant-{uuid.uuid4().hex}").model_copy(
            update=common_overrides or {}
        ),
        sandbox_app=sandbox_app,
        store=store or _test_store,
        ingest_overrides=ingest_overrides or {},
        inventory_overrides=inventory_overrides or {},
    )
    try:
        await system.start(*services)
        yield system
    finally:
        await system.stop()
