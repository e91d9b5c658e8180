"""payment attempted: invoice_links.payment_attempted, set before the payment voucher is posted

Until the voucher is recorded, its outcome is unknown: a later attempt looks the journal's
entries up before posting again (lb_invoicing/posted_payments.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 12:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only if missing: a database that start-up created with `create_all` from the current models
    # has the column already.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("invoice_links")}
    if "payment_attempted" in columns:
        return
    with op.batch_alter_table("invoice_links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("payment_attempted", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("invoice_links", schema=None) as batch_op:
        batch_op.drop_column("payment_attempted")
