"""Sandbox settings, read from LEDGERBRIDGE_SANDBOX_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERBRIDGE_SANDBOX_")

    host: str = "127.0.0.1"
    port: int = 8100
    # Token bucket per agreement, as e-conomic's X-RateLimiting header describes it.
    rate_limit_tokens: int = 10000
    rate_limit_window_seconds: float = 60.0
    call_cost: int = 3
    # Real e-conomic only lets the demo agreement read; the sandbox lets the demo write.
    demo_writable: bool = True
    idempotency_ttl_seconds: float = 3600.0
    # The e-conomic app the grant flow knows from the start (economic/grants.py): its public
    # token, which the installation URL carries. More apps: POST /_sandbox/economic/apps.
    economic_app_public_token: str = "sandbox-app-public-token"
    # That app's secret token (ledgerbridge's default): a token granted to the app works with
    # this secret only.
    economic_app_secret_token: str = "demo"
    # Whether a POST repeated with the same Idempotency-Key is answered from the cache. e-conomic
    # documents the header for its newer APIs (apis.e-conomic.com, "Optional headers"); for
    # restapi a live check confirmed it for DELETE only, and POST is listed as unverified
    # (Pogoe/EConomic.NET docs/legacy-api-verification.md, "Idempotency and retries"). So off
    # by default: a repeated POST runs again, the stricter case. PUT and DELETE replay always.
    idempotent_post: bool = False
    # File that keeps the e-conomic agreements across restarts (`make up`: its data folder's
    # sandbox-ledger.json); unset: in memory only, a restart starts from the seed.
    state_file: Path | None = None
    # Shopify GraphQL Admin API points bucket per shop: the plan's restore rate (standard 100
    # points/s, advanced 200, plus 1,000) and the bucket's size (unpublished by Shopify; answers
    # seen carry 20 x the restore rate).
    shopify_plan: Literal["standard", "advanced", "plus"] = "standard"
    # Overrides the bucket's size (points), e.g. to make throttling quick to reach in tests.
    shopify_points_bucket: float | None = None
    # Seconds a bulk operation takes before its result is ready.
    shopify_bulk_delay_seconds: float = 0.2
    # The client id of the QuickBooks app the sandbox's OAuth knows (quickbooks/oauth.py).
    quickbooks_client_id: str = "sandbox-qbo-client"
    # That app's client secret (ledgerbridge's default `LEDGERBRIDGE_QUICKBOOKS_CLIENT_SECRET`).
    quickbooks_client_secret: str = "sandbox-qbo-secret"
    # QuickBooks' throttle per company (realm): requests a minute, then 429.
    quickbooks_requests_per_minute: int = 500
    # QuickBooks' throttle per company (realm): requests a second, then 429.
    quickbooks_requests_per_second: int = 10
    # QuickBooks' throttle per company (realm): requests at once, then 429.
    quickbooks_concurrent_requests: int = 10
    # Lifetime of an access token (QuickBooks: 3600 s).
    quickbooks_access_token_seconds: float = 3600.0
    # Shopify accepts an HTTPS address (or Pub/Sub, EventBridge) for a webhook subscription,
    # never plain http. `make up` and `make demo` run ingest on http://127.0.0.1, so they set
    # this to accept http:// on a loopback host (127.0.0.0/8, ::1, localhost) and nothing else.
    shopify_allow_http_loopback_webhooks: bool = False


PLAN_RESTORE_RATES = {"standard": 100.0, "advanced": 200.0, "plus": 1000.0}


def points_bucket(settings: SandboxSettings) -> tuple[float, float]:
    """(bucket size, restore rate) of the plan's GraphQL points bucket."""
    rate = PLAN_RESTORE_RATES[settings.shopify_plan]
    return settings.shopify_points_bucket or rate * 20, rate
