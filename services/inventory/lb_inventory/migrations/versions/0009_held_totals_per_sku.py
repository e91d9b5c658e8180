"""held totals per sku

The units held by open orders per SKU, kept with every hold and release (`held_totals`, in
millionths of a unit), and on each held order what it held before its last write
(`held_orders.previous_units`). The totals start as the sum of the open orders.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 00:17:35.018541
"""

import json
from collections import defaultdict
from collections.abc import Sequence
from decimal import ROUND_CEILING, Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCALE = 1_000_000  # lb_inventory.holds.SCALE when this was written


def upgrade() -> None:
    # Only what is missing: a database that start-up created with create_all already has it.
    inspector = sa.inspect(op.get_bind())
    if "held_totals" not in inspector.get_table_names():
        totals = op.create_table(
            "held_totals",
            sa.Column("connection", sa.String(), nullable=False),
            sa.Column("sku", sa.String(), nullable=False),
            sa.Column("units", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("connection", "sku"),
        )
        orders = sa.table(
            "held_orders",
            sa.column("connection", sa.String()),
            sa.column("units", sa.JSON()),
            sa.column("released_at", sa.DateTime(timezone=True)),
        )
        held: defaultdict[tuple[str, str], int] = defaultdict(int)
        rows = op.get_bind().execute(
            sa.select(orders.c.connection, orders.c.units).where(orders.c.released_at.is_(None))
        )
        for connection, units in rows:
            units = json.loads(units) if isinstance(units, str) else units
            for sku, quantity in units.items():
                scaled = (Decimal(quantity) * SCALE).to_integral_value(rounding=ROUND_CEILING)
                held[(connection, sku)] += int(scaled)
        if held:
            op.bulk_insert(
                totals,
                [{"connection": c, "sku": s, "units": u} for (c, s), u in sorted(held.items())],
            )
    if "previous_units" not in {c["name"] for c in inspector.get_columns("held_orders")}:
        with op.batch_alter_table("held_orders", schema=None) as batch_op:
            batch_op.add_column(sa.Column("previous_units", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("held_orders", schema=None) as batch_op:
        batch_op.drop_column("previous_units")
    op.drop_table("held_totals")
