"""merchant action unique

One merchant action is applied once even when two processes admit its deliveries at the same
moment: `ux_deliveries_merchant_action`, unique on `event_key` among the deliveries that were not
kept as `duplicate`, replaces the plain index on `event_key` (lb_ingest/acceptance.py, writer.py).

`event_key` now holds only what a platform's event id identifies. Before, a delivery without an
event id held a key made of its delivery id; those keys are cleared (nothing deduplicated on
them). Should an action have been applied twice before (the race this index closes), the later
deliveries keep their outcome and lose the key, so the index can be built.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 09:18:53.139444
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPLIED = sa.text("outcome <> 'duplicate'")


def upgrade() -> None:
    op.execute(
        "UPDATE deliveries SET event_key = NULL "
        "WHERE event_key = platform || ':' || shop || ':' || topic || ':' || delivery_id"
    )
    op.execute(
        "UPDATE deliveries SET event_key = NULL "
        "WHERE outcome <> 'duplicate' AND event_key IS NOT NULL AND id > ("
        "SELECT min(first.id) FROM deliveries AS first "
        "WHERE first.event_key = deliveries.event_key AND first.outcome <> 'duplicate')"
    )
    # if_exists / if_not_exists: a database that start-up created with create_all has the new
    # index and not the old one.
    op.drop_index(op.f("ix_deliveries_event_key"), table_name="deliveries", if_exists=True)
    op.create_index(
        "ux_deliveries_merchant_action",
        "deliveries",
        ["event_key"],
        unique=True,
        sqlite_where=_APPLIED,
        postgresql_where=_APPLIED,
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ux_deliveries_merchant_action", table_name="deliveries")
    op.create_index(op.f("ix_deliveries_event_key"), "deliveries", ["event_key"], unique=False)
