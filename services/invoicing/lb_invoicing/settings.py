from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from lb_common.settings import ServiceSettings


class InvoicingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERBRIDGE_INVOICING_", extra="ignore")

    port: int = 8003
    seed_demo_connection: bool = True
