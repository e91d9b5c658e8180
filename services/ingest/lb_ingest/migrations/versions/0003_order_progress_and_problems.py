"""order progress and problems: how far an order got, its open failures, needs_attention

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 08:38:24.689892

Existing orders: progress is their status, except for failed ones, whose progress comes from
what they reached (invoice number, customer number, transferred). A failed order, and a booked
one with a reason (a step after booking failed), gets one open problem under the key `order`,
which a replay sends again (see lb_ingest/order_status.py).
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_orders = sa.table(
    "orders",
    sa.column("order_key", sa.String()),
    sa.column("status", sa.String()),
    sa.column("status_reason", sa.String()),
    sa.column("transferred_at", sa.String()),
    sa.column("customer_number", sa.Integer()),
    sa.column("invoice_number", sa.Integer()),
    sa.column("updated_at", sa.String()),
    sa.column("progress", sa.String()),
    sa.column("problems", sa.JSON()),
    sa.column("needs_attention", sa.Boolean()),
)


def upgrade() -> None:
    # Only if missing: a database that start-up created with `create_all` from the current models
    # (adopting 0001) has the columns already, and no orders.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("orders")}
    if "progress" in columns:
        return
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("progress", sa.String(), nullable=False, server_default="received")
        )
        batch_op.add_column(sa.Column("problems", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(
            sa.Column("needs_attention", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(
            batch_op.f("ix_orders_needs_attention"), ["needs_attention"], unique=False
        )
    connection = op.get_bind()
    reached = sa.case(
        (_orders.c.invoice_number.is_not(None), "booked"),
        (_orders.c.customer_number.is_not(None), "customer_resolved"),
        (_orders.c.transferred_at.is_not(None), "transferred"),
        else_="received",
    )
    connection.execute(
        sa.update(_orders).values(
            progress=sa.case((_orders.c.status == "failed", reached), else_=_orders.c.status)
        )
    )
    stopped = connection.execute(
        sa.select(_orders.c.order_key, _orders.c.status_reason).where(
            sa.or_(
                _orders.c.status == "failed",
                sa.and_(_orders.c.status == "booked", _orders.c.status_reason.is_not(None)),
            )
        )
    ).all()
    now = datetime.now(UTC).isoformat()
    for key, reason in stopped:
        problem = {"failed_at": now, "ok_at": None, "reason": reason, "service": None,
                   "message_id": None, "message_type": None}  # fmt: skip
        connection.execute(
            sa.update(_orders)
            .where(_orders.c.order_key == key)
            .values(status="failed", needs_attention=True, problems={"order": problem})
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_needs_attention"))
        batch_op.drop_column("needs_attention")
        batch_op.drop_column("problems")
        batch_op.drop_column("progress")
