"""customer ids are text: links, merges and the debtor index hold the ledger's customer id as text

The ledger port's ids are strings (a QuickBooks Id, a GUID elsewhere). e-conomic's customer
numbers already stored become their decimal text (9011 → "9011"): SQLite converts them as the
table is copied, PostgreSQL by `USING column::text`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {
    "customer_links": (("customer_number", False), ("merged_from", True)),
    "customer_merges": (("merged_number", False), ("survivor_number", False)),
    "debtor_index": (("customer_number", False),),
}


def _change(to: sa.types.TypeEngine, cast: str, downgrading: bool = False) -> None:
    inspector = sa.inspect(op.get_bind())
    for table, columns in COLUMNS.items():
        types = {c["name"]: c["type"] for c in inspector.get_columns(table)}
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, nullable in columns:
                is_text = isinstance(types[name], sa.String)
                if is_text != downgrading:
                    continue  # already so: a database created from the current models
                batch_op.alter_column(
                    name,
                    existing_type=types[name],
                    type_=to,
                    existing_nullable=nullable,
                    postgresql_using=f"{name}::{cast}",
                )


def upgrade() -> None:
    _change(sa.String(), "text")


def downgrade() -> None:
    _change(sa.Integer(), "integer", downgrading=True)
