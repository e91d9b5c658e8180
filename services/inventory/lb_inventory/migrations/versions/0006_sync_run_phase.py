"""sync run phase

What a running stock sync is doing now (`stock_sync_runs.phase`), for the console's live
progress of "sync now".

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 11:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only what is missing: a database that start-up created with create_all already has it.
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("stock_sync_runs")}
    if "phase" not in present:
        with op.batch_alter_table("stock_sync_runs") as batch:
            batch.add_column(sa.Column("phase", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stock_sync_runs") as batch:
        batch.drop_column("phase")
