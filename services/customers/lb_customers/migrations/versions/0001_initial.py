"""initial: the tables as the models define them

Every table and index is created only if missing: a database that start-up created with
`create_all` before there were migrations adopts this revision without changes.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 10:43:24.422525
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
        "creation_claims",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("match_key", sa.String(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection", "match_key"),
        if_not_exists=True,
    )
    op.create_table(
        "customer_links",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("match_key", sa.String(), nullable=False),
        sa.Column("customer_number", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection", "match_key"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_customer_links_customer_number"),
        "customer_links",
        ["customer_number"],
        unique=False,
        if_not_exists=True,
    )
    op.create_table(
        "customer_merges",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("merged_number", sa.Integer(), nullable=False),
        sa.Column("survivor_number", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection", "merged_number"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_customer_merges_survivor_number"),
        "customer_merges",
        ["survivor_number"],
        unique=False,
        if_not_exists=True,
    )
    op.create_table(
        "customer_settings",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("connection"),
        if_not_exists=True,
    )
    op.create_table(
        "debtor_index",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("customer_number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("cvr", sa.String(), nullable=True),
        sa.Column("ean", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("zip", sa.String(), nullable=True),
        sa.Column("city", sa.String(), nullable=True),
        sa.Column("barred", sa.Boolean(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection", "customer_number"),
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


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_published_at"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("inbox")
    op.drop_table("debtor_index")
    op.drop_table("customer_settings")
    op.drop_index(op.f("ix_customer_merges_survivor_number"), table_name="customer_merges")
    op.drop_table("customer_merges")
    op.drop_index(op.f("ix_customer_links_customer_number"), table_name="customer_links")
    op.drop_table("customer_links")
    op.drop_table("creation_claims")
