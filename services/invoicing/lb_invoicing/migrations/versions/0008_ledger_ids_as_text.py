"""ledger ids as text

The ledger's customer, draft, invoice and credit note numbers become text: the ledger port's ids
are strings (an e-conomic number, a QuickBooks Id). Existing rows keep their numbers as decimal
text (1001 → "1001"); the indexes on the columns are kept.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table → (column, nullable)
_COLUMNS: dict[str, tuple[tuple[str, bool], ...]] = {
    "invoice_links": (
        ("customer_number", False),
        ("draft_invoice_number", True),
        ("booked_invoice_number", True),
    ),
    "credit_note_links": (
        ("customer_number", True),
        ("draft_invoice_number", True),
        ("booked_invoice_number", True),
    ),
}


def _alter(to: type[sa.types.TypeEngine], using: str | None) -> None:
    for table, columns in _COLUMNS.items():
        # SQLite rebuilds the table (batch mode) and copies the rows with a CAST; PostgreSQL
        # alters the columns in place, USING the same cast.
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, nullable in columns:
                batch_op.alter_column(
                    column,
                    existing_nullable=nullable,
                    type_=to(),
                    postgresql_using=using.format(column=column) if using else None,
                )


def upgrade() -> None:
    _alter(sa.String, "{column}::text")
    if op.get_bind().dialect.name == "sqlite":
        # The rebuilt table's copy keeps SQLite's stored integers; store them as text.
        for table, columns in _COLUMNS.items():
            for column, _ in columns:
                op.execute(
                    f"UPDATE {table} SET {column} = CAST({column} AS TEXT) "
                    f"WHERE {column} IS NOT NULL AND typeof({column}) != 'text'"
                )


def downgrade() -> None:
    _alter(sa.Integer, "{column}::integer")
