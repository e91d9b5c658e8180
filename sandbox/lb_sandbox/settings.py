"""Sandbox settings, read from LEDGERBRIDGE_SANDBOX_* environment variables."""

from __future__ import annotations

from pathlib import Path

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
    # Shopify Admin REST leaky bucket per shop (standard plans: 40 deep, leaking 2 per second).
    shopify_bucket_capacity: int = 40
    shopify_leak_per_second: float = 2.0
    # File that keeps the e-conomic agreements across restarts (`make up`: its data folder's
    # sandbox-ledger.json); unset: in memory only, a restart starts from the seed.
    state_file: Path | None = None
