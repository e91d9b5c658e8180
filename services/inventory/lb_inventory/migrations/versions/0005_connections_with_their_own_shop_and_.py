"""connections with their own shop and ledger

The service's copy of the connections (`connection_copies`, lb_common/connection_copies.py),
kept from ingest's connection.changed messages.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:48:39.546467
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
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


def downgrade() -> None:
    op.drop_table("connection_copies")
