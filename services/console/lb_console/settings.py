from __future__ import annotations

import os

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from lb_common.settings import ServiceSettings


def _local(service: str, port: int) -> str:
    return f"http://127.0.0.1:{os.environ.get(f'LEDGERBRIDGE_{service}_PORT', port)}"


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERBRIDGE_CONSOLE_", extra="ignore")

    port: int = 8005
    # Where the console finds each service's admin API (it calls them with the admin token).
    ingest_url: str = Field(
        default_factory=lambda: _local("INGEST", 8001),
        description="Base URL of ingest's admin API. Default: this host, at LEDGERBRIDGE_INGEST_PORT (8001).",
    )
    customers_url: str = Field(
        default_factory=lambda: _local("CUSTOMERS", 8002),
        description="Base URL of customers's admin API. Default: this host, at LEDGERBRIDGE_CUSTOMERS_PORT (8002).",
    )
    invoicing_url: str = Field(
        default_factory=lambda: _local("INVOICING", 8003),
        description="Base URL of invoicing's admin API. Default: this host, at LEDGERBRIDGE_INVOICING_PORT (8003).",
    )
    inventory_url: str = Field(
        default_factory=lambda: _local("INVENTORY", 8004),
        description="Base URL of inventory's admin API. Default: this host, at LEDGERBRIDGE_INVENTORY_PORT (8004).",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs the console's session cookies. Unset: derived from the "
        "admin token, so changing the token also ends every console session.",
    )
    session_hours: float = Field(
        default=8, gt=0, description="An operator's console session ends this long after log-in."
    )
    secure_cookie: bool = Field(
        default=False,
        description="Mark the session cookie Secure (sent over HTTPS only): set it when the "
        "console is served behind TLS.",
    )
    ledger_daily_calls: int = Field(
        default=50_000,
        gt=0,
        description="The calls an agreement may make in a day, which the overview measures "
        "today's ledger calls against: e-conomic's fair use policy allows 50,000 per "
        "agreement in 24 hours.",
    )
    call_timeout_seconds: float = Field(
        default=15, gt=0, description="Longest wait for one admin API call of a service."
    )

    def service_urls(self) -> dict[str, str]:
        return {
            "ingest": self.ingest_url,
            "customers": self.customers_url,
            "invoicing": self.invoicing_url,
            "inventory": self.inventory_url,
        }
