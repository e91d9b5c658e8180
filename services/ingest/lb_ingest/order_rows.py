"""Reading and writing `OrderState`s in bulk, with Core statements (no ORM objects on the hot path)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from lb_common.db import utcnow
from lb_ingest.orders import OrderState
from lb_ingest.store import Order

_orders = Order.__table__  # type: ignore[attr-defined]
_STATE_COLUMNS = (
    "order_key", "connection", "platform", "shop", "order_id", "status", "status_reason",
    "progress", "needs_attention", "version", "transferred_at", "cancellation_sent",
)  # fmt: skip
_ROW_DEFAULTS: dict[str, Any] = {
    "order_name": None, "email": None, "currency": None, "total": None, "canonical": None,
    "customer_number": None, "invoice_number": None, "problems": {},
}  # fmt: skip


def load_order_states(
    connection: Connection, keys: Collection[str], *, lock: bool = False
) -> dict[str, OrderState]:
    """The stored states of these orders (those that exist). `lock` holds their rows until
    commit where the database can (PostgreSQL), so a concurrent status update is not lost."""
    if not keys:
        return {}
    query = select(*(_orders.c[name] for name in _STATE_COLUMNS)).where(
        _orders.c.order_key.in_(keys)
    )
    if lock and connection.dialect.name != "sqlite":  # SQLite's write lock covers the file
        query = query.with_for_update()
    rows = connection.execute(query)
    return {row.order_key: OrderState(**row._asdict(), stored=True) for row in rows}


def save_order_states(connection: Connection, states: Iterable[OrderState]) -> None:
    """Insert new orders and write the changed columns of stored ones."""
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    updates: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    for state in states:
        if not state.stored:
            row = {**_ROW_DEFAULTS, **{name: getattr(state, name) for name in _STATE_COLUMNS}}
            new_rows.append({"received_at": now, "updated_at": now, **row, **state.changes})
        elif state.changes:
            updates[frozenset(state.changes)].append({"key": state.order_key, **state.changes})
        state.stored = True
        state.changes = {}
    if new_rows:
        connection.execute(insert(_orders), new_rows)
    # The SET clause comes from the rows' keys, and executemany needs the same keys in every
    # row: one statement per set of changed columns (usually one or two).
    by_key = update(_orders).where(_orders.c.order_key == bindparam("key"))
    for rows in updates.values():
        connection.execute(by_key, rows)
