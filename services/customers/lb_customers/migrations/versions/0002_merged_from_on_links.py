"""merged from: customer_links.merged_from, the customer a link pointed at before a merge

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 08:42:42.894667
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only if missing: a database that start-up created with `create_all` from the current models
    # (adopting 0001) has the column already.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("customer_links")}
    if "merged_from" in columns:
        return
    with op.batch_alter_table("customer_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_from", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_links", schema=None) as batch_op:
        batch_op.drop_column("merged_from")
