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
    public_url: str | None = Field(
        default=None,
        description="ingest's address as shops and browsers reach it (https://bridge.example.com):"
        " the Shopify webhook subscriptions point to <public_url>/webhooks/shopify/<connection>, "
        "e-conomic's grant flow returns to <public_url>/grants/economic/<connection> and "
        "QuickBooks' consent to <public_url>/grants/quickbooks. "
        "Unset: none of them is set up by ledgerbridge.",
    )
    economic_app_public_token: str | None = Field(
        default=None,
        description="Our e-conomic app's public token (the app's page in e-conomic's developer "
        "agreement): the installation URL of the grant flow carries it. Its secret token is "
        "LEDGERBRIDGE_ECONOMIC_APP_SECRET_TOKEN.",
    )
    economic_installation_url: str = Field(
        default="https://secure.e-conomic.com/secure/api1/requestaccess.aspx",
        description="e-conomic's page that grants an app access to an agreement (the sandbox "
        "serves the same path).",
    )
    economic_grant_minutes: float = Field(
        default=30,
        gt=0,
        description="How long an installation URL may be used (minutes) before a new one is "
        "needed.",
    )
    quickbooks_consent_minutes: float = Field(
        default=30,
        gt=0,
        description="How long a QuickBooks consent URL may be used (minutes) before a new one "
        "is needed. The Intuit app's keys are LEDGERBRIDGE_QUICKBOOKS_CLIENT_ID and "
        "LEDGERBRIDGE_QUICKBOOKS_CLIENT_SECRET; its redirect URI to register is "
        "<public_url>/grants/quickbooks.",
    )
    webhook_subscriptions_check_seconds: float = Field(
        default=3600,
        ge=0,
        description="Every Shopify connection's webhook subscriptions are checked (and a missing "
        "or wrong one re-created) at start and this often (seconds; 0: only when a connection is "
        "saved or on POST /connections/{name}/webhook-subscriptions/check).",
    )
    keap_hooks_check_seconds: float = Field(
        default=300,
        ge=0,
        description="Every Keap connection's REST hooks are checked at start and this often "
        "(seconds; 0: only when a connection is saved or on POST "
        "/connections/{name}/webhook-subscriptions/check): a missing one is created, an Inactive "
        "or Unverified one verified again (Keap deactivates a hook after 4 failed deliveries).",
    )
    keap_requests_per_minute: int = Field(
        default=240,
        ge=1,
        description="Calls a minute ingest makes with one Keap API key (Keap's quota: 240 for a "
        "service account key or personal access token, 1,500 for an OAuth app).",
    )
    keap_fetch_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the fetcher looks for Keap orders named by hooks that another "
        "process stored (this process's own wake it at once).",
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
    stall_batch: int = Field(default=100, ge=1, le=10_000)
    # While customers' or invoicing's work queue holds at least this many messages ready, no
    # order is sent again: it is most likely queued, and copies would lengthen the queue (0: never
    # hold). At a few orders a second, 50 ready messages are well under the stall time's worth.
    stall_hold_when_queued: int = Field(default=50, ge=0)
    # The `demo` connection is created at start-up unless it exists (see docs/configuration.md).
    seed_demo_connection: bool = True
    demo_shopify_secret: SecretStr = Field(
        default=SecretStr("demo-secret"),
        validation_alias=AliasChoices(
            "LEDGERBRIDGE_DEMO_SHOPIFY_SECRET", "LEDGERBRIDGE_INGEST_DEMO_SHOPIFY_SECRET"
        ),
    )
