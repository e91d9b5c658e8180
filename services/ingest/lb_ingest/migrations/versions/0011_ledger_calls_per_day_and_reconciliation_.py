"""ledger calls per day and reconciliation outcomes

The ledger calls ingest made per UTC day, agreement (a fingerprint) and connection
(lb_common/ledger_calls.py), and how each connection's last reconciliation ended: both for
the console's overview.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 15:12:34.530166
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_calls",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("agreement", sa.String(length=16), nullable=False),
        sa.Column("connection", sa.String(length=64), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "agreement", "connection"),
        if_not_exists=True,
    )
    op.create_table(
        "reconciliation_outcomes",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("connection"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("reconciliation_outcomes")
    op.drop_table("ledger_calls")
