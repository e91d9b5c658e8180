"""retention indexes: retention deletes the oldest rows first; the order list filters by
received_at and by status, newest first

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 08:46:34.156809
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # if_not_exists: a database that start-up created with create_all already has them.
    op.create_index(
        op.f("ix_deliveries_received_at"),
        "deliveries",
        ["received_at"],
        unique=False,
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_inbox_handled_at"), "inbox", ["handled_at"], unique=False, if_not_exists=True
    )
    op.create_index(
        op.f("ix_orders_received_at"), "orders", ["received_at"], unique=False, if_not_exists=True
    )
    op.create_index(
        "ix_orders_status_updated_at",
        "orders",
        ["status", "updated_at"],
        unique=False,
        if_not_exists=True,
    )
    op.create_index(op.f("ix_timeline_at"), "timeline", ["at"], unique=False, if_not_exists=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_timeline_at"), table_name="timeline")
    op.drop_index("ix_orders_status_updated_at", table_name="orders")
    op.drop_index(op.f("ix_orders_received_at"), table_name="orders")
    op.drop_index(op.f("ix_inbox_handled_at"), table_name="inbox")
    op.drop_index(op.f("ix_deliveries_received_at"), table_name="deliveries")
