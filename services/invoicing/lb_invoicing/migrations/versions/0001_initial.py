"""initial: the tables as the models define them

Every table and index is created only if missing: a database that start-up created with
`create_all` before there were migrations adopts this revision without changes.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 10:43:25.364620
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
        "credit_note_links",
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("order_key", sa.String(), nullable=False),
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("draft_invoice_number", sa.Integer(), nullable=True),
        sa.Column("booked_invoice_number", sa.Integer(), nullable=True),
        sa.Column("gross_amount", sa.String(), nullable=True),
        sa.Column("customer_number", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(), nullable=True),
        sa.Column("invoice_date", sa.Date(), nullable=True),
        sa.Column("document", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("reference"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_credit_note_links_customer_number"),
        "credit_note_links",
        ["customer_number"],
        unique=False,
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_credit_note_links_invoice_date"),
        "credit_note_links",
        ["invoice_date"],
        unique=False,
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_credit_note_links_order_key"),
        "credit_note_links",
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
        "invoice_links",
        sa.Column("order_key", sa.String(), nullable=False),
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("customer_number", sa.Integer(), nullable=False),
        sa.Column("draft_invoice_number", sa.Integer(), nullable=True),
        sa.Column("booked_invoice_number", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(), nullable=True),
        sa.Column("taxes_included", sa.Boolean(), nullable=False),
        sa.Column("net_amount", sa.String(), nullable=True),
        sa.Column("vat_amount", sa.String(), nullable=True),
        sa.Column("gross_amount", sa.String(), nullable=True),
        sa.Column("invoice_date", sa.Date(), nullable=True),
        sa.Column("document", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_key"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_invoice_links_booked_invoice_number"),
        "invoice_links",
        ["booked_invoice_number"],
        unique=False,
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_invoice_links_connection"),
        "invoice_links",
        ["connection"],
        unique=False,
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_invoice_links_customer_number"),
        "invoice_links",
        ["customer_number"],
        unique=False,
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_invoice_links_invoice_date"),
        "invoice_links",
        ["invoice_date"],
        unique=False,
        if_not_exists=True,
    )
    op.create_table(
        "invoice_settings",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("connection"),
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
    op.drop_table("invoice_settings")
    op.drop_index(op.f("ix_invoice_links_invoice_date"), table_name="invoice_links")
    op.drop_index(op.f("ix_invoice_links_customer_number"), table_name="invoice_links")
    op.drop_index(op.f("ix_invoice_links_connection"), table_name="invoice_links")
    op.drop_index(op.f("ix_invoice_links_booked_invoice_number"), table_name="invoice_links")
    op.drop_table("invoice_links")
    op.drop_table("inbox")
    op.drop_index(op.f("ix_credit_note_links_order_key"), table_name="credit_note_links")
    op.drop_index(op.f("ix_credit_note_links_invoice_date"), table_name="credit_note_links")
    op.drop_index(op.f("ix_credit_note_links_customer_number"), table_name="credit_note_links")
    op.drop_table("credit_note_links")
