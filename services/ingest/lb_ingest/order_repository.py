"""Where ingest reads and writes its orders (`orders.Order`): one repository over a database
connection, inside the caller's transaction.

Core statements, no ORM objects: the webhook writer (fast_path/) loads and saves whole batches
of orders with one statement each, and everything else (replay, the reports of other services,
the admin API) goes through the same methods. An update writes only the columns that changed
since the order was loaded, so two writers that changed different columns do not undo each
other's work.

Locking: `lock=True` serialises work on an order across processes (rule 9): on PostgreSQL a
transaction-scoped advisory lock per order key, taken in key order, then the rows themselves.
The advisory lock also covers an order that is not stored yet, so two transactions cannot both
decide about a new order without seeing each other (a refund held by one while the other
transfers the order, and never sent). On SQLite the write lock already serialises writers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Select,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from lb_ingest.orders import COLUMNS, NOT_LOADED, Order
from lb_ingest.store import OrderRecord

orders_table: Table = OrderRecord.__table__  # type: ignore[attr-defined]

_BY_COLUMN = {column: name for name, column in COLUMNS.items()}
_WITHOUT_DOCUMENT = [orders_table.c[c] for c in COLUMNS.values() if c != "canonical"]
_ALL = [orders_table.c[c] for c in COLUMNS.values()]

# Sorted, so that two transactions locking several orders never wait on each other in a cycle.
_LOCK_ORDERS = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended('ingest.order:' || k, 0))) "
    "FROM (SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS sorted"
).bindparams(bindparam("keys", type_=ARRAY(Text)))

# The hot statements are built once (`keys` expands to the list it is given): building one and
# working out its cache key took longer than running it on SQLite (about 300 µs of 450).
_AMONG_KEYS = orders_table.c.order_key.in_(bindparam("keys", expanding=True))
# One key (a report handled alone, an admin read) is the common case: `=` needs no expanding
# of its parameter at every execution (about a third of the read's cost on SQLite).
_IS_KEY = orders_table.c.order_key == bindparam("key")


def _select(document: bool, lock: bool, where: ColumnElement[bool]) -> Select[Any]:
    query = select(*(_ALL if document else _WITHOUT_DOCUMENT)).where(where)
    return query.with_for_update() if lock else query


#: (with the document, locked, one key) -> the SELECT of the orders among `keys` (or `key`).
_GET: dict[tuple[bool, bool, bool], Select[Any]] = {
    (document, lock, one): _select(document, lock, _IS_KEY if one else _AMONG_KEYS)
    for document in (True, False)
    for lock in (True, False)
    for one in (True, False)
}
#: (with the document) -> the model's field names of the columns those SELECTs read.
_NAMES = {
    document: [_BY_COLUMN[column.name] for column in (_ALL if document else _WITHOUT_DOCUMENT)]
    for document in (True, False)
}
_VERSIONS = select(orders_table.c.order_key, orders_table.c.version).where(_AMONG_KEYS)
_INSERT = insert(orders_table)
# The SET clause comes from each executemany's rows (the columns that changed).
_UPDATE = update(orders_table).where(orders_table.c.order_key == bindparam("key"))

T = TypeVar("T")


class OrderRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, key: str, *, lock: bool = False, with_document: bool = True) -> Order | None:
        return self.get_many([key], lock=lock, with_document=with_document).get(key)

    def get_many(
        self, keys: Collection[str], *, lock: bool = False, with_document: bool = False
    ) -> dict[str, Order]:
        """The stored orders among `keys`. `lock`: hold them (and the keys not stored yet)
        until commit. Without `with_document` the canonical order (the largest column) is not
        read, and `Order.canonical` raises."""
        if not keys:
            return {}
        lock = lock and self._conn.dialect.name == "postgresql"
        if lock:
            self._conn.execute(_LOCK_ORDERS, {"keys": sorted(keys)})
        if len(keys) == 1:
            [key] = keys
            rows = self._conn.execute(_GET[with_document, lock, True], {"key": key})
        else:
            rows = self._conn.execute(_GET[with_document, lock, False], {"keys": list(keys)})
        names = _NAMES[with_document]
        return {order.order_key: order for order in (_order_of(names, row) for row in rows)}

    def save(self, orders: Iterable[Order]) -> None:
        """Insert the new orders and write the changed columns of the stored ones."""
        new_rows: list[dict[str, Any]] = []
        updates: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
        for order in orders:
            if order.loaded is None:
                row = {column: getattr(order, name) for name, column in COLUMNS.items()}
                new_rows.append(row)
                order.loaded = {name: getattr(order, name) for name in COLUMNS}
                continue
            changed = _changes(order)
            if changed:
                updates[frozenset(changed)].append({"key": order.order_key, **changed})
                order.loaded.update({_BY_COLUMN[c]: v for c, v in changed.items()})
        if new_rows:
            self._conn.execute(_INSERT, new_rows)
        # executemany needs the same keys in every row: one statement per set of changed
        # columns (usually one or two).
        for rows in updates.values():
            self._conn.execute(_UPDATE, rows)

    def versions(self, keys: Collection[str]) -> dict[str, datetime]:
        """The stored version of each of these orders that has one."""
        if not keys:
            return {}
        rows = self._conn.execute(_VERSIONS, {"keys": list(keys)})
        return {key: version for key, version in rows if version is not None}

    def page(
        self, where: Sequence[ColumnElement[bool]], *, limit: int, offset: int
    ) -> tuple[int, list[Order]]:
        """How many orders match, and one page of them, most recently changed first."""
        total = self._conn.execute(
            select(func.count()).select_from(orders_table).where(*where)
        ).scalar_one()
        rows = self._conn.execute(
            select(*_ALL)
            .where(*where)
            .order_by(orders_table.c.updated_at.desc())
            .offset(offset)
            .limit(limit)
        )
        names = [_BY_COLUMN[column] for column in rows.keys()]
        return total, [_order_of(names, row) for row in rows]

    def keys(self, where: Sequence[ColumnElement[bool]], *, limit: int) -> list[str]:
        """The keys of the matching orders, least recently changed first."""
        rows = self._conn.execute(
            select(orders_table.c.order_key)
            .where(*where)
            .order_by(orders_table.c.updated_at)
            .limit(limit)
        )
        return [key for (key,) in rows]


async def with_orders(session: AsyncSession, work: Callable[[OrderRepository], T]) -> T:
    """Run `work` with the repository in `session`'s transaction (async callers)."""
    return await session.run_sync(lambda sync: work(OrderRepository(sync.connection())))


def _order_of(names: list[str], row: Any) -> Order:
    """`row` (its columns by `names`, the model's field names) as an order."""
    values = dict(zip(names, row, strict=True))
    order = Order(**values)
    if "document" not in values:
        order.document = NOT_LOADED
    order.loaded = values
    return order


def _changes(order: Order) -> dict[str, Any]:
    """Column -> new value for what changed since `order` was loaded."""
    loaded = order.loaded
    assert loaded is not None
    changed: dict[str, Any] = {}
    for name, column in COLUMNS.items():
        value = getattr(order, name)
        if value is NOT_LOADED:
            continue
        if name not in loaded or (loaded[name] is not value and loaded[name] != value):
            changed[column] = value
    return changed
