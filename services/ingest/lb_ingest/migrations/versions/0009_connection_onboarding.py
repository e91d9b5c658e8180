"""connection onboarding

How each connection's onboarding stands: the pending e-conomic grant (its state as SHA-256
only), the settings proposed from the agreement, the Shopify webhook subscriptions as last
checked (lb_ingest/connection_onboarding.py, connection_subscriptions.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 11:50:15.144635
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "connection_onboarding",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("grant_state_sha256", sa.String(), nullable=True),
        sa.Column("grant_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("grant_base_url", sa.String(), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("proposal", sa.JSON(), nullable=True),
        sa.Column("proposal_error", sa.Text(), nullable=True),
        sa.Column("proposal_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("proposal_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("subscriptions", sa.JSON(), nullable=False),
        sa.Column("subscriptions_error", sa.Text(), nullable=True),
        sa.Column("subscriptions_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("connection"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("connection_onboarding")
