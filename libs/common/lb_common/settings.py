"""Settings shared by every service, from the environment (`LEDGERBRIDGE_*`, 12-factor).

A service composes these with its own `ServiceSettings` subclass (prefix `LEDGERBRIDGE_<SERVICE>_`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERBRIDGE_", extra="ignore")

    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    # Every exchange and queue name starts with this; tests use a unique one each to stay apart.
    broker_prefix: str = "ledgerbridge"
    # Bearer token for admin routes. Unset: admin routes answer 503 rather than run open.
    admin_token: SecretStr | None = None
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    # What this process runs. `all`: everything. `web`: the HTTP app only (webhooks, admin
    # API); the messages it writes wait in the outbox, and several web processes can share one
    # port. `worker`: consumers, outbox relay and periodic jobs (its port still answers health
    # and admin calls). See docs/architecture.md, "Scaling out".
    role: Literal["all", "web", "worker"] = "all"
    log_level: str = "INFO"
    log_json: bool = True
    # Delayed retry: one TTL queue per step; a message waits step i on its (i+1)-th failure.
    retry_delays_ms: list[int] = Field(default=[1_000, 5_000, 30_000, 120_000, 600_000])
    # Quorum-queue redeliveries (crashes, nacks) before RabbitMQ dead-letters to parking.
    delivery_limit: int = 10
    prefetch: int = 8
    # The demo/sandbox ledger every service uses for connection `demo` (see docs/configuration.md).
    economic_base_url: str = "http://127.0.0.1:8100/economic"
    economic_app_secret_token: SecretStr = SecretStr("demo")
    economic_agreement_grant_token: SecretStr = SecretStr("demo")
    # The shop's Admin API for connection `demo` (stock sync); default: the sandbox's emulation.
    shopify_admin_base_url: str = "http://127.0.0.1:8100/shopify"
    shopify_access_token: SecretStr = SecretStr("demo")
    # Shopify GraphQL Admin API version, pinned (supported 12 months from its release; a warning
    # is logged in its last three months). Keep equal to lb_connectors.shopify_admin.API_VERSION.
    shopify_api_version: str = "2026-10"
    # The shop's plan, for the points restore rate the client paces to before Shopify's answers
    # say: standard 100 points/s, advanced 200, plus 1,000.
    shopify_plan: Literal["standard", "advanced", "plus"] = "standard"


class ServiceSettings(BaseSettings):
    """Per-service part: subclasses set `model_config` with their own env prefix and port."""

    model_config = SettingsConfigDict(extra="ignore")

    port: int = 8000
    # Default: SQLite file `<data_dir>/<service>.db`; PostgreSQL by URL for replicas.
    database_url: str | None = None
    common: CommonSettings = Field(default_factory=CommonSettings)

    def resolved_database_url(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        path = (self.common.data_dir / f"{service}.db").resolve()
        return f"sqlite+aiosqlite:///{path}"
