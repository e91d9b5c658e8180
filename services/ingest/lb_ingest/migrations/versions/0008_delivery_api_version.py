"""delivery api version

Each webhook delivery keeps the API version the platform sent it in (Shopify's
X-Shopify-API-Version), so one sent in another version than the pinned one shows on the delivery
(`GET /deliveries`). Older deliveries have none.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 12:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only when missing: a database that start-up created with create_all already has it.
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("deliveries")}
    if "api_version" not in present:
        with op.batch_alter_table("deliveries", schema=None) as batch_op:
            batch_op.add_column(sa.Column("api_version", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("api_version")
