"""stock levels derived at

When a booking last took units off a product's stock reading (`stock_levels.derived_at`): the
ledger's stock worked out from the last reading instead of read after every booking.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 21:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only what is missing: a database that start-up created with create_all already has it.
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("stock_levels")}
    if "derived_at" not in present:
        with op.batch_alter_table("stock_levels") as batch:
            batch.add_column(sa.Column("derived_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stock_levels") as batch:
        batch.drop_column("derived_at")
