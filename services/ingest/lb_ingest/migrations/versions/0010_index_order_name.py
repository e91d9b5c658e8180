"""order list indexes: the order list finds an order by its name without reading the table,
and the overview counts orders per connection and status from an index alone

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 12:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # if_not_exists: a database that start-up created with create_all already has it.
    op.create_index(
        op.f("ix_orders_order_name"), "orders", ["order_name"], unique=False, if_not_exists=True
    )
    op.create_index(
        "ix_orders_connection_status",
        "orders",
        ["connection", "status"],
        unique=False,
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_orders_connection_status", table_name="orders")
    op.drop_index(op.f("ix_orders_order_name"), table_name="orders")
