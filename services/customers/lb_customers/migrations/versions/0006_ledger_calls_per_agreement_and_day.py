"""ledger calls per agreement and day

The ledger calls this service made per UTC day, agreement (a fingerprint) and connection
(lb_common/ledger_calls.py), for the console's daily budget.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 15:11:06.980578
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
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


def downgrade() -> None:
    op.drop_table("ledger_calls")
