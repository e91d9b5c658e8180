"""leases and outbox claims

The `leases` table (lb_common/leases.py) and the relay's claim on outbox rows (`claimed_by`,
`claimed_until`, lb_common/outbox.py). Both columns are nullable: a relay of the previous
release ignores them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 08:49:22.749730
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only what is missing: a database that start-up created with create_all already has it.
    op.create_table(
        "leases",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        if_not_exists=True,
    )
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("outbox")}
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        if "claimed_by" not in present:
            batch_op.add_column(sa.Column("claimed_by", sa.String(), nullable=True))
        if "claimed_until" not in present:
            batch_op.add_column(
                sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True)
            )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")

    op.drop_table("leases")
