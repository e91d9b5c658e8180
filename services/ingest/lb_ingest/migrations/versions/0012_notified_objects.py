"""notified_objects: the objects a fetch-after-notify platform (Keap) named, waiting to be
fetched, unique per change

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notified_objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("event_key", sa.String(), nullable=False),
        sa.Column("object_id", sa.String(), nullable=False),
        sa.Column("stamp", sa.String(), nullable=False),
        sa.Column("delivery_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("order_key", sa.String(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "connection", "event_key", "object_id", "stamp", name="ux_notified_objects_change"
        ),
        if_not_exists=True,
    )
    op.create_index(
        "ix_notified_objects_waiting",
        "notified_objects",
        ["status", "next_attempt_at"],
        unique=False,
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_notified_objects_received_at"),
        "notified_objects",
        ["received_at"],
        unique=False,
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_notified_objects_received_at"), table_name="notified_objects")
    op.drop_index("ix_notified_objects_waiting", table_name="notified_objects")
    op.drop_table("notified_objects")
