"""index delivery outcome: a worker finds the deliveries web processes stored as `received`

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:04:30.610841
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # if_not_exists: a database that start-up created with create_all already has it.
    op.create_index(
        op.f("ix_deliveries_outcome"), "deliveries", ["outcome"], unique=False, if_not_exists=True
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_deliveries_outcome"), table_name="deliveries")
