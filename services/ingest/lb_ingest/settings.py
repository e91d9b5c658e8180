from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from lb_common.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERBRIDGE_INGEST_", extra="ignore")

    port: int = 8001
    max_body_bytes: int = 2 * 1024 * 1024
    # Ask each Shopify shop for orders the webhooks missed this often (seconds; 0: never).
    reconcile_interval_seconds: float = 900
    connections_resend_seconds: float = Field(
        default=300,
        ge=0,
        description="Every connection is sent to the other services again (connection.changed) "
        "at start and this often (seconds; 0: at start only), so a service whose copy is "
        "missing or stale catches up.",
    )
    # Look for stalled orders (sent on, no progress since) this often (seconds; 0: never), and
    # send them on again: lb_ingest/stalled.py, docs/orders.md.
    stall_check_seconds: float = 15
    # An order is stalled when nothing happened to it for this long (seconds), counted from the
    # end of an announced retry wait. Short enough that an order whose message was lost is on its
    # way again within about a minute and a half (make chaos: every order booked within 2
    # minutes of the last fault); a handler that is merely slow gets a harmless second copy.
    stall_after_seconds: float = 60
    # At most this many candidate orders are looked at per check, least recently changed first.
    stall_batch: int = Field(default=100, ge=1)
    # The `demo` connection is created at start-up unless it exists (see docs/configuration.md).
    seed_demo_connection: bool = True
    demo_shopify_secret: SecretStr = Field(
        default=SecretStr("demo-secret"),
        validation_alias=AliasChoices(
            "LEDGERBRIDGE_DEMO_SHOPIFY_SECRET", "LEDGERBRIDGE_INGEST_DEMO_SHOPIFY_SECRET"
        ),
    )
