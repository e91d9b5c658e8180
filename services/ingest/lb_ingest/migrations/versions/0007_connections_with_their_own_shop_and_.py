"""connections with their own shop and ledger

A connection's secrets sealed on its row (`sealed`; the clear-text `secrets` of older rows are
sealed by ingest at start-up, which needs the key), its `revision` and `deleted_at`; and the
copy of the connections every service keeps (`connection_copies`, lb_common/connection_copies.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 09:48:34.682251
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only what is missing: a database that start-up created with create_all already has it.
    op.create_table(
        "connection_copies",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("ledger_kind", sa.String(), nullable=True),
        sa.Column("sealed", sa.String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        if_not_exists=True,
    )
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("connections")}
    with op.batch_alter_table("connections", schema=None) as batch_op:
        if "sealed" not in present:
            batch_op.add_column(sa.Column("sealed", sa.Text(), nullable=True))
        if "revision" not in present:
            # Existing rows start at revision 0; the server default only fills them.
            batch_op.add_column(
                sa.Column("revision", sa.Integer(), nullable=False, server_default="0")
            )
        if "deleted_at" not in present:
            batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("revision")
        batch_op.drop_column("sealed")

    op.drop_table("connection_copies")
