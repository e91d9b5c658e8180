"""quickbooks_consents: a connection's pending QuickBooks consent (state digest, expiry) and
the last one that succeeded

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 16:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quickbooks_consents",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("state_sha256", sa.String(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("base_url", sa.String(), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("realm_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("connection"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_quickbooks_consents_state_sha256"),
        "quickbooks_consents",
        ["state_sha256"],
        unique=False,
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_quickbooks_consents_state_sha256"), table_name="quickbooks_consents")
    op.drop_table("quickbooks_consents")
