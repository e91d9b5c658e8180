"""initial: the tables as the models define them

Every table and index is created only if missing: a database that start-up created with
`create_all` before there were migrations adopts this revision without changes.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 10:43:23.443833
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        if_not_exists=True,
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("delivery_id", sa.String(), nullable=False),
        sa.Column("event_key", sa.String(), nullable=True),
        sa.Column("shop", sa.String(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("order_key", sa.String(), nullable=True),
        sa.Column("order_version", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connection", "delivery_id"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_deliveries_connection"),
        "deliveries",
        ["connection"],
        unique=False,
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_deliveries_event_key"),
        "deliveries",
        ["event_key"],
        unique=False,
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_deliveries_order_key"),
        "deliveries",
        ["order_key"],
        unique=False,
        if_not_exists=True,
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "message_id"),
        if_not_exists=True,
    )
    op.create_table(
        "orders",
        sa.Column("order_key", sa.String(), nullable=False),
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("shop", sa.String(), nullable=False),
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("order_name", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("currency", sa.String(), nullable=True),
        sa.Column("total", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("status_reason", sa.String(), nullable=True),
        sa.Column("version", sa.DateTime(timezone=True), nullable=True),
        sa.Column("canonical", sa.JSON(), nullable=True),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customer_number", sa.Integer(), nullable=True),
        sa.Column("invoice_number", sa.Integer(), nullable=True),
        sa.Column("cancellation_sent", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_key"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_orders_connection"), "orders", ["connection"], unique=False, if_not_exists=True
    )
    op.create_index(op.f("ix_orders_email"), "orders", ["email"], unique=False, if_not_exists=True)
    op.create_index(
        op.f("ix_orders_status"), "orders", ["status"], unique=False, if_not_exists=True
    )
    op.create_index(
        op.f("ix_orders_updated_at"), "orders", ["updated_at"], unique=False, if_not_exists=True
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("routing_key", sa.String(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_outbox_published_at"), "outbox", ["published_at"], unique=False, if_not_exists=True
    )
    op.create_table(
        "reconciliation_marks",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection"),
        if_not_exists=True,
    )
    op.create_table(
        "refunds",
        sa.Column("order_key", sa.String(), nullable=False),
        sa.Column("refund_id", sa.String(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("emitted", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_key", "refund_id"),
        if_not_exists=True,
    )
    op.create_table(
        "timeline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_key", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service", sa.String(), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_timeline_order_key"), "timeline", ["order_key"], unique=False, if_not_exists=True
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_timeline_order_key"), table_name="timeline")
    op.drop_table("timeline")
    op.drop_table("refunds")
    op.drop_table("reconciliation_marks")
    op.drop_index(op.f("ix_outbox_published_at"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_orders_updated_at"), table_name="orders")
    op.drop_index(op.f("ix_orders_status"), table_name="orders")
    op.drop_index(op.f("ix_orders_email"), table_name="orders")
    op.drop_index(op.f("ix_orders_connection"), table_name="orders")
    op.drop_table("orders")
    op.drop_table("inbox")
    op.drop_index(op.f("ix_deliveries_order_key"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_event_key"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_connection"), table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("connections")
