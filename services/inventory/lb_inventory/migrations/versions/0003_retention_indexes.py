"""retention indexes: retention deletes the oldest inbox entries first

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 08:46:39.499894
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # if_not_exists: a database that start-up created with create_all already has them.
    op.create_index(
        op.f("ix_inbox_handled_at"), "inbox", ["handled_at"], unique=False, if_not_exists=True
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_handled_at"), table_name="inbox")
