"""held orders and held units at push

The units of orders the shop has sold and the ledger not yet booked (`held_orders`), and on each
SKU link the units held when it was last pushed. Existing links start at 0 held.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 08:36:42.806762
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only what is missing: a database that start-up created with `create_all` from the current
    # models (adopting 0001) has the table and the column already.
    op.create_table(
        "held_orders",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("order_key", sa.String(), nullable=False),
        sa.Column("version", sa.DateTime(timezone=True), nullable=True),
        sa.Column("units", sa.JSON(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection", "order_key"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_held_orders_released_at"),
        "held_orders",
        ["released_at"],
        unique=False,
        if_not_exists=True,
    )
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("sku_links")}
    if "held_at_push" not in columns:
        with op.batch_alter_table("sku_links", schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("held_at_push", sa.String(), nullable=False, server_default="0")
            )


def downgrade() -> None:
    with op.batch_alter_table("sku_links", schema=None) as batch_op:
        batch_op.drop_column("held_at_push")

    with op.batch_alter_table("held_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_held_orders_released_at"))

    op.drop_table("held_orders")
