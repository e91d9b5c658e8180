"""Building QuickBooks queries with the values escaped.

Strings are single-quoted with a backslash before every backslash and single quote (Intuit's
"advanced SQL queries" post; python-quickbooks escapes only the quote, which lets a trailing
backslash end the string early). Property and entity names are not quotable, so they are checked
against a plain identifier pattern instead: a name never carries a value into the query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*(\.[A-Z][A-Za-z0-9]*)?$")
MAX_RESULTS = 1000

Value = str | int | Decimal | bool


def quote(value: Value) -> str:
    """A literal for the query language."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a QuickBooks entity or property name")
    return name


@dataclass(frozen=True)
class Select:
    """`Select("Item", extra=("Sku",)).where("Sku", "IN", ["A", "B"])`, rendered by `text()`."""

    entity: str
    extra: tuple[str, ...] = ()
    conditions: tuple[str, ...] = field(default=())

    def where(self, name: str, op: str, value: Value | Iterable[Value]) -> Select:
        op = op.upper()
        if op not in ("=", "<", ">", "<=", ">=", "LIKE", "IN"):
            raise ValueError(f"QuickBooks queries have no operator {op!r}")
        if op == "IN":
            assert not isinstance(value, str | int | Decimal | bool)
            values = list(value)
            if not values:
                raise ValueError("IN needs at least one value")
            literal = "(" + ", ".join(quote(v) for v in values) + ")"
        else:
            assert isinstance(value, str | int | Decimal | bool)
            literal = quote(value)
        return Select(self.entity, self.extra, (*self.conditions, f"{_name(name)} {op} {literal}"))

    def text(self, *, start: int = 1, max_results: int = MAX_RESULTS) -> str:
        fields = ", ".join(["*", *(_name(e) for e in self.extra)])
        where = f" WHERE {' AND '.join(self.conditions)}" if self.conditions else ""
        return (
            f"SELECT {fields} FROM {_name(self.entity)}{where}"
            f" STARTPOSITION {start} MAXRESULTS {max_results}"
        )
