"""initial: the tables as the models define them

Every table and index is created only if missing: a database that start-up created with
`create_all` before there were migrations adopts this revision without changes.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 10:43:26.237939
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
        "inbox",
        sa.Column("consumer", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "message_id"),
        if_not_exists=True,
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
        "sku_links",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("product_number", sa.String(), nullable=False),
        sa.Column("inventory_item_id", sa.String(), nullable=False),
        sa.Column("variant_id", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("ledger_level", sa.String(), nullable=True),
        sa.Column("shop_level", sa.Integer(), nullable=True),
        sa.Column("last_pushed", sa.Integer(), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shop_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("connection", "sku"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_sku_links_inventory_item_id"),
        "sku_links",
        ["inventory_item_id"],
        unique=False,
        if_not_exists=True,
    )
    op.create_table(
        "stock_levels",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("product_number", sa.String(), nullable=False),
        sa.Column("available", sa.String(), nullable=True),
        sa.Column("in_stock", sa.String(), nullable=True),
        sa.Column("sold_since_read", sa.String(), nullable=False),
        sa.Column("last_order_key", sa.String(), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection", "product_number"),
        if_not_exists=True,
    )
    op.create_table(
        "stock_mismatches",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("ledger_level", sa.Integer(), nullable=True),
        sa.Column("shop_level", sa.Integer(), nullable=True),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection", "kind", "key"),
        if_not_exists=True,
    )
    op.create_table(
        "stock_settings",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("connection"),
        if_not_exists=True,
    )
    op.create_table(
        "stock_sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("mismatches", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("shop_calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_stock_sync_runs_connection"),
        "stock_sync_runs",
        ["connection"],
        unique=False,
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_stock_sync_runs_connection"), table_name="stock_sync_runs")
    op.drop_table("stock_sync_runs")
    op.drop_table("stock_settings")
    op.drop_table("stock_mismatches")
    op.drop_table("stock_levels")
    op.drop_index(op.f("ix_sku_links_inventory_item_id"), table_name="sku_links")
    op.drop_table("sku_links")
    op.drop_index(op.f("ix_outbox_published_at"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("inbox")
