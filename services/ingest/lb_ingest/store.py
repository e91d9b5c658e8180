"""ingest's own tables: shop connections, webhook deliveries (raw bytes kept), orders, timeline.

These classes declare the tables (and the migrations are checked against them). Orders are read
and written as `orders.Order` through `order_repository.py`, not through `OrderRecord`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from lb_common.db import UTCDateTime, utcnow
from lb_common.ledger_calls import LedgerCallCount


class ShopConnection(SQLModel, table=True):
    """One shop ↔ ledger pair, as ingest sees it: how to verify and when to transfer."""

    __tablename__ = "connections"

    name: str = Field(primary_key=True)
    platform: str
    # Clear-text webhook secrets of an older release: sealed into `sealed` (and emptied) at
    # start-up (connections.reseal_all). Nothing writes clear text here any more.
    secrets: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    enabled: bool = True
    # Webhook secrets, shop Admin API access and ledger credentials, sealed with
    # LEDGERBRIDGE_SECRETS_KEY (lb_common/sealing.py); never returned by the API.
    sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Raised by every change; the other services keep the highest they have seen.
    revision: int = 0
    # Deleted connections stay (their orders and deliveries name them), disabled and unsealed.
    deleted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class Delivery(SQLModel, table=True):
    """One webhook request, stored before it is answered."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("connection", "delivery_id"),
        # One merchant action reaches us as several deliveries (one per subscription): the
        # first is applied, the others are kept as `duplicate`. Unique, so two processes that
        # admit the same action at once cannot both apply it (acceptance.admit).
        Index(
            "ux_deliveries_merchant_action",
            "event_key",
            unique=True,
            sqlite_where=text("outcome <> 'duplicate'"),
            postgresql_where=text("outcome <> 'duplicate'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    connection: str = Field(index=True)
    platform: str
    topic: str
    delivery_id: str
    # The merchant action it carries (DeliveryInfo.dedup_key); None when the platform sent no
    # event id. Indexed by ux_deliveries_merchant_action.
    event_key: str | None = None
    shop: str | None = None
    # Indexed: retention deletes the oldest deliveries first (lb_ingest/retention.py).
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # received (stored by a web process, waiting for the worker) | accepted | duplicate | stale |
    # unusable | stored. Indexed: the worker looks for `received` ones.
    outcome: str = Field(index=True)
    error: str | None = None
    order_key: str | None = Field(default=None, index=True)
    # The platform's updated_at of the order this delivery carried (its version).
    order_version: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # The API version the platform sent it in (Shopify's X-Shopify-API-Version), when it says.
    api_version: str | None = None


class OrderRecord(SQLModel, table=True):
    """The `orders` table: the newest version of an order, and where it stands."""

    __tablename__ = "orders"
    # The admin list: orders by status, most recently changed first. The overview's counts per
    # connection and status: read from the index alone (20 ms instead of 200 ms on 100,000).
    __table_args__ = (
        Index("ix_orders_status_updated_at", "status", "updated_at"),
        Index("ix_orders_connection_status", "connection", "status"),
    )

    order_key: str = Field(primary_key=True)
    connection: str = Field(index=True)
    platform: str
    shop: str
    order_id: str
    # Indexed: the order list finds an order by its name (#1001) without reading the table.
    order_name: str | None = Field(default=None, index=True)
    email: str | None = Field(default=None, index=True)
    currency: str | None = None
    total: str | None = None  # Decimal as text: exact, and portable between databases
    # What an operator filters on, derived from `progress` and `problems` (see order_status.py).
    status: str = Field(index=True)
    status_reason: str | None = None
    progress: str = "received"  # how far it got; never moves backwards
    # Per piece of work: when it last failed and last went through (order_status.Mark).
    problems: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    needs_attention: bool = Field(default=False, index=True)  # a problem is open
    version: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    canonical: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    transferred_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    customer_number: int | None = None
    invoice_number: int | None = None
    cancellation_sent: bool = False
    # Indexed: the order list filters by it (since, until).
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )


class TimelineEntry(SQLModel, table=True):
    __tablename__ = "timeline"

    id: int | None = Field(default=None, primary_key=True)
    order_key: str = Field(index=True)
    # Indexed: retention deletes the oldest entries first.
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    service: str
    step: str
    message: str = Field(sa_column=Column(Text, nullable=False))
    level: str = "info"  # info | warning | error
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The event that reported this step: a redelivered event adds no second line.
    message_id: str | None = Field(default=None, unique=True)


class RefundRecord(SQLModel, table=True):
    """A refund seen for an order (by the platform's refund id), and whether it was sent on."""

    __tablename__ = "refunds"

    order_key: str = Field(primary_key=True)
    refund_id: str = Field(primary_key=True)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    emitted: bool = False
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class ReconciliationMark(SQLModel, table=True):
    """How far reconciliation with the shop got, per connection."""

    __tablename__ = "reconciliation_marks"

    connection: str = Field(primary_key=True)
    last_run_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class ReconciliationOutcome(SQLModel, table=True):
    """How the last reconciliation of a connection ended, failed or not (the console shows it);
    `ReconciliationMark` moves only after a run that completed."""

    __tablename__ = "reconciliation_outcomes"

    connection: str = Field(primary_key=True)
    finished_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    ok: bool
    detail: str


class ConnectionOnboarding(SQLModel, table=True):
    """How a connection's onboarding stands (lb_ingest/connection_onboarding.py,
    connection_subscriptions.py): the settings proposed from the ledger, and the shop's webhook
    subscriptions as last checked. No secret is kept here. (Consents: `LedgerConsent`.)"""

    __tablename__ = "connection_onboarding"

    connection: str = Field(primary_key=True)
    proposal: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    proposal_error: str | None = Field(default=None, sa_column=Column(Text))
    proposal_read_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    proposal_confirmed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    subscriptions: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    subscriptions_error: str | None = Field(default=None, sa_column=Column(Text))
    subscriptions_checked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class LedgerConsent(SQLModel, table=True):
    """A connection's consent for one ledger kind (lb_ingest/ledger_consent.py): the pending one
    (its `state` as SHA-256 only, until it expires, with what the kind's flow keeps for its
    completion) and when the last one succeeded, with the facts shown for it. No secret here:
    the credentials are sealed on the connection (tokens in the kind's own vault)."""

    __tablename__ = "ledger_consents"

    connection: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    state_sha256: str | None = Field(default=None, index=True)
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    keep: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    connected_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    facts: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class NotifiedObject(SQLModel, table=True):
    """One object a fetch-after-notify platform (Keap) named as changed: what ingest's fetcher
    reads from the platform's API (lb_ingest/notified_fetch.py). Unique per (connection, event
    key, object id, timestamp), so a delivery repeated, or two hooks naming the same change, is
    fetched once. Reconciliation adds rows too (event key `reconcile`)."""

    __tablename__ = "notified_objects"
    __table_args__ = (
        UniqueConstraint(
            "connection", "event_key", "object_id", "stamp", name="ux_notified_objects_change"
        ),
        # The fetcher's question: what is waiting and due, oldest first.
        Index("ix_notified_objects_waiting", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    connection: str
    event_key: str
    object_id: str
    stamp: str  # the change's timestamp, as the platform sent it
    # The delivery that named it first (deliveries.delivery_id); None for reconciliation.
    delivery_id: str | None = None
    # waiting | fetched | gone (the platform no longer has it) | unreadable (it refuses the id)
    status: str = "waiting"
    attempts: int = 0
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    order_key: str | None = None
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )
    fetched_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


TABLES = (
    ShopConnection,
    Delivery,
    OrderRecord,
    TimelineEntry,
    RefundRecord,
    ReconciliationMark,
    ReconciliationOutcome,
    ConnectionOnboarding,
    LedgerCallCount,
    NotifiedObject,
    LedgerConsent,
)
