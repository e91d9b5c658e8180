"""Settings shared by every service, from the environment (`LEDGERBRIDGE_*`, 12-factor).

A service composes these with its own `ServiceSettings` subclass (prefix `LEDGERBRIDGE_<SERVICE>_`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lb_common.retry import RetrySchedules, parse_schedule


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
    tracing: bool = Field(
        default=True,
        description="OpenTelemetry trace context: one trace follows an order through every "
        "service (its id is in each message's `traceparent` header and on each log line); "
        "spans are recorded only when exported (LEDGERBRIDGE_OTLP_ENDPOINT). false: no trace "
        "context at all.",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="Base URL of an OTLP/HTTP collector (e.g. http://otel-collector:4318): "
        "spans (requests, messages handled and published, ledger and shop calls) are recorded "
        "and sent to it at `/v1/traces`. Unset: none recorded. The standard `OTEL_*` variables "
        "(OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS) apply.",
    )
    # Delayed retry through the broker, one schedule per cause of failure (lb_common/retry.py).
    retry_contention: str = Field(
        default="1s x10, 5s x34",
        description="Waits before retrying a message that met contention (another worker holds "
        "the customer being created, a database conflict, a credit note waiting for its invoice "
        "to be booked): short and flat. Steps are durations with a unit (`ms`, `s`, `min`, `h`), "
        "`xN` repeats one; the n-th such failure waits the n-th step, after the last the message "
        "is parked. Default: parked after 3 min.",
    )
    retry_ledger_unavailable: str = Field(
        default="5s, 15s, 30s, 1min, 2min, 5min, 10min, 15min, 30min",
        description="Waits before retrying a message whose ledger or shop call failed (5xx, "
        "timeout, connection refused) after the client's own quick retries: an outage, so the "
        "waits grow, gently in the first minute, since a stray 5xx or lost reply clears at once "
        "and a third one in a row is still no outage. Default: parked after 1 h 3 min 50 s.",
    )
    retry_rate_limited: str = Field(
        default="5s, 30s, 1min x4, 5min x4",
        description="Waits before retrying a message whose call was refused for the agreement's "
        "call budget (HTTP 429) after the client's own retries. A `Retry-After` lengthens a wait "
        "to the first step at least that long (at most the longest step). Default: parked after "
        "24 min 35 s.",
    )
    retry_unexpected: str = Field(
        default="1s, 10s, 1min, 5min",
        description="Waits before retrying a message that failed with an error nobody "
        "classified (a bug, the database unreachable). Default: parked after 6 min 11 s.",
    )
    # Quick retries inside one ledger/shop call, before a failure reaches the retry queues.
    ledger_call_attempts: int = Field(
        default=4,
        ge=1,
        le=10,
        description="Tries of one e-conomic or Shopify call on a 5xx, 429 or network failure "
        "before the message goes to the retry queues (reads always; writes only when they carry "
        "an Idempotency-Key or are idempotent by nature).",
    )
    ledger_call_backoff_ms: int = Field(
        default=250,
        ge=0,
        description="First wait between two tries of one call; it doubles each time, with full "
        "jitter. A `Retry-After` is waited instead when longer.",
    )
    ledger_call_budget_ms: int = Field(
        default=5_000,
        ge=0,
        description="Longest time one call spends waiting between its tries; a wait that would "
        "pass it (a long `Retry-After`) is left to the retry queues instead.",
    )
    economic_post_replay: bool = Field(
        default=False,
        description="Whether e-conomic's restapi answers a repeated POST carrying the same "
        "Idempotency-Key from its cache (unconfirmed: its docs promise it for the newer APIs, "
        "and a live test showed it for DELETE only). Off: a POST whose reply was lost is not "
        "sent again within the call; the order's retry looks the document up by its reference "
        "before creating it again. Turn on only once a run against a real agreement showed "
        "the replay (`X-ResultFromCache: true` on a repeated POST).",
    )
    # Quorum-queue redeliveries (crashes, nacks) before RabbitMQ dead-letters to parking.
    delivery_limit: int = 10
    prefetch: int = Field(
        default=8,
        ge=1,
        le=1_000,
        description="Messages a consumer may hold unacknowledged at once (per replica), at "
        "most 1,000: what a process holds in memory however long its queue is (a backlog "
        "waits in RabbitMQ).",
    )
    secrets_key: SecretStr | None = Field(
        default=None,
        description="Fernet keys sealing connection secrets at rest and in messages, "
        "comma-separated: the first seals, every one opens (put a new key first to rotate; "
        "README, Connections). The same value in every service. Unset: a public development "
        "key (demo only).",
    )
    environment_connections: str = Field(
        default="*",
        description="Connections that may use the ledger and shop configured below "
        "(LEDGERBRIDGE_ECONOMIC_*, LEDGERBRIDGE_SHOPIFY_*) when a service holds no credentials "
        "of their own: comma-separated names, `*` for any. Set it to the names that really use "
        "them (or empty) once connections carry their own, so that an order of a connection a "
        "service has not heard of yet waits for it instead of going to that ledger.",
    )
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

    # Retention (lb_common/retention.py): what may be deleted, and when. A worker prunes in
    # small batches; deleting is idempotent, so every replica may do it.
    retention_interval_seconds: float = Field(
        default=3600,
        ge=0,
        description="How often a worker deletes what the retention settings below allow "
        "(seconds; 0: never delete anything).",
    )
    retention_batch_size: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Rows deleted per transaction while pruning; the hot path gets the database "
        "between batches (on SQLite the write lock is shared, so keep it small).",
    )
    outbox_retention_days: float = Field(
        default=7,
        ge=0,
        description="Days a sent message stays in the outbox (unsent ones are never deleted). "
        "0: kept for ever.",
    )
    inbox_retention_days: float = Field(
        default=30,
        ge=0,
        description="Days a handled message id stays in the inbox, where it turns a redelivery "
        "into a no-op. Must outlast every redelivery: retries come within minutes "
        "(the LEDGERBRIDGE_RETRY_* schedules); a parked message retried later is made harmless by "
        "each handler's business key (docs/configuration.md, Retention). 0: kept for ever.",
    )
    delivery_retention_days: float = Field(
        default=30,
        ge=0,
        description="ingest: days the raw webhook deliveries (bodies included) of finished "
        "orders (booked, skipped, cancelled) are kept; deliveries of orders still open or "
        "failed are kept until the order finishes, so a replay can always read them. 0: kept "
        "for ever.",
    )
    timeline_retention_days: float = Field(
        default=180,
        ge=0,
        description="ingest: days the timeline entries of finished orders are kept (the order "
        "itself stays); open and failed orders keep their whole timeline. 0: kept for ever.",
    )

    @field_validator(
        "retry_contention", "retry_ledger_unavailable", "retry_rate_limited", "retry_unexpected"
    )
    @classmethod
    def _readable_schedule(cls, value: str) -> str:
        if not parse_schedule(value):
            raise ValueError("a retry schedule needs at least one step, e.g. '5s, 1min'")
        return value

    def may_use_environment(self, connection: str) -> bool:
        names = {n.strip() for n in self.environment_connections.split(",") if n.strip()}
        return "*" in names or connection in names

    def retry_schedules(self) -> RetrySchedules:
        return RetrySchedules(
            {
                "contention": parse_schedule(self.retry_contention),
                "ledger_unavailable": parse_schedule(self.retry_ledger_unavailable),
                "rate_limited": parse_schedule(self.retry_rate_limited),
                "unexpected": parse_schedule(self.retry_unexpected),
            }
        )


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
