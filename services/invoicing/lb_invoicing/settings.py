from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lb_common.settings import ServiceSettings


class InvoicingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERBRIDGE_INVOICING_", extra="ignore")

    port: int = 8003
    seed_demo_connection: bool = True
    order_lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How long an order's lease lasts without renewal: invoices, credit notes and "
        "cancellations of one order are made one at a time across replicas, and a replica that "
        "died holding an order leaves it waiting at most this long (renewed every third of it "
        "while the work runs). Keep it well below the contention schedule's total wait.",
    )
