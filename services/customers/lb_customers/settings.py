from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from lb_common.settings import ServiceSettings


class CustomersSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERBRIDGE_CUSTOMERS_", extra="ignore")

    port: int = 8002
