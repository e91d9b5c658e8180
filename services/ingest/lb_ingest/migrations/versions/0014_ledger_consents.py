"""ledger_consents: every ledger kind's consent in one table (connection, kind), replacing
quickbooks_consents and connection_onboarding's grant_* columns; their rows are kept

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28 19:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRANT_COLUMNS = ("grant_state_sha256", "grant_expires_at", "grant_base_url", "granted_at")


def upgrade() -> None:
    op.create_table(
        "ledger_consents",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("state_sha256", sa.String(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("keep", sa.JSON(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("connection", "kind"),
        if_not_exists=True,
    )
    op.create_index(
        op.f("ix_ledger_consents_state_sha256"),
        "ledger_consents",
        ["state_sha256"],
        unique=False,
        if_not_exists=True,
    )
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    add = (
        "INSERT INTO ledger_consents "
        "(connection, kind, state_sha256, expires_at, keep, connected_at, facts) "
        "SELECT connection, :kind, {state}, {expires}, :keep, {connected}, :facts FROM {table} "
        "WHERE connection = :connection"
    )
    typed = (sa.bindparam("keep", type_=sa.JSON()), sa.bindparam("facts", type_=sa.JSON()))
    # The datetimes are copied in SQL as stored; only the JSON is built here.
    if "quickbooks_consents" in inspector.get_table_names():
        rows = bind.execute(
            sa.text("SELECT connection, base_url, realm_id FROM quickbooks_consents")
        ).all()
        statement = sa.text(
            add.format(
                state="state_sha256",
                expires="expires_at",
                connected="connected_at",
                table="quickbooks_consents",
            )
        ).bindparams(*typed)
        for connection, base_url, realm_id in rows:
            bind.execute(
                statement,
                {
                    "kind": "quickbooks",
                    "connection": connection,
                    "keep": {"base_url": base_url} if base_url else {},
                    "facts": {"realm_id": realm_id} if realm_id else {},
                },
            )
        op.drop_index(op.f("ix_quickbooks_consents_state_sha256"), table_name="quickbooks_consents")
        op.drop_table("quickbooks_consents")
    columns = {c["name"] for c in inspector.get_columns("connection_onboarding")}
    if set(GRANT_COLUMNS) <= columns:
        rows = bind.execute(
            sa.text(
                "SELECT connection, grant_base_url FROM connection_onboarding "
                "WHERE grant_state_sha256 IS NOT NULL OR granted_at IS NOT NULL"
            )
        ).all()
        statement = sa.text(
            add.format(
                state="grant_state_sha256",
                expires="grant_expires_at",
                connected="granted_at",
                table="connection_onboarding",
            )
        ).bindparams(*typed)
        for connection, base_url in rows:
            bind.execute(
                statement,
                {
                    "kind": "economic",
                    "connection": connection,
                    "keep": {"base_url": base_url} if base_url else {},
                    "facts": {},
                },
            )
        with op.batch_alter_table("connection_onboarding") as batch:
            for column in GRANT_COLUMNS:
                batch.drop_column(column)


def downgrade() -> None:
    with op.batch_alter_table("connection_onboarding") as batch:
        batch.add_column(sa.Column("grant_state_sha256", sa.String(), nullable=True))
        batch.add_column(sa.Column("grant_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("grant_base_url", sa.String(), nullable=True))
        batch.add_column(sa.Column("granted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "quickbooks_consents",
        sa.Column("connection", sa.String(), nullable=False),
        sa.Column("state_sha256", sa.String(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("base_url", sa.String(), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("realm_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("connection"),
    )
    op.create_index(
        op.f("ix_quickbooks_consents_state_sha256"),
        "quickbooks_consents",
        ["state_sha256"],
        unique=False,
    )
    op.drop_index(op.f("ix_ledger_consents_state_sha256"), table_name="ledger_consents")
    op.drop_table("ledger_consents")
