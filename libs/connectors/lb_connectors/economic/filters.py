"""Builder for e-conomic's `filter` query parameter.

Syntax: `<property><op><value>` joined by `$and:` / `$or:` with parentheses for precedence.
Values are escaped as e-conomic documents (`$`→`$$`, `(`→`$(`, ...), so a customer named
"Smith (Ltd), $5" cannot break out of its value. URL-encoding is left to httpx.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

# `$` first: every later replacement introduces a `$` that must not be doubled again.
_ESCAPES = (
    ("$", "$$"),
    ("(", "$("),
    (")", "$)"),
    ("*", "$*"),
    (",", "$,"),
    ("[", "$["),
    ("]", "$]"),
)

NULL = "$null:"
MAX_IN_VALUES = 200

Value = str | int | Decimal | bool | dt.date | dt.datetime | None


def escape(text: str) -> str:
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text


def format_value(value: Value) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("filter datetimes must be timezone-aware")
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return escape(value)


class Filter:
    """An immutable filter expression; combine with `&` and `|`, render with `str()`."""

    __slots__ = ("_compound", "_text")

    def __init__(self, text: str, *, compound: bool = False) -> None:
        self._text = text
        self._compound = compound

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Filter({self._text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filter) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)

    def _operand(self) -> str:
        # Parenthesise compound operands so `a | (b & c)` keeps its meaning whatever
        # precedence e-conomic gives `$and:` over `$or:`.
        return f"({self._text})" if self._compound else self._text

    def __and__(self, other: Filter) -> Filter:
        return and_(self, other)

    def __or__(self, other: Filter) -> Filter:
        return or_(self, other)


def _join(op: str, filters: Iterable[Filter]) -> Filter:
    parts = list(filters)
    if not parts:
        raise ValueError("nothing to combine")
    if len(parts) == 1:
        return parts[0]
    return Filter(op.join(p._operand() for p in parts), compound=True)


def and_(*filters: Filter) -> Filter:
    return _join("$and:", filters)


def or_(*filters: Filter) -> Filter:
    return _join("$or:", filters)


class Field:
    """`Field("email").eq("jane@example.com")` → `email$eq:jane@example.com`."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def _op(self, op: str, value: Value) -> Filter:
        return Filter(f"{self.name}${op}:{format_value(value)}")

    def eq(self, value: Value) -> Filter:
        return self._op("eq", value)

    def ne(self, value: Value) -> Filter:
        return self._op("ne", value)

    def gt(self, value: Value) -> Filter:
        return self._op("gt", value)

    def gte(self, value: Value) -> Filter:
        return self._op("gte", value)

    def lt(self, value: Value) -> Filter:
        return self._op("lt", value)

    def lte(self, value: Value) -> Filter:
        return self._op("lte", value)

    def like(self, text: str) -> Filter:
        """Contains-match (case-insensitive); every character in `text` is literal."""
        return self._op("like", text)

    def like_pattern(self, pattern: str) -> Filter:
        """`*` in `pattern` is a wildcard; everything else is literal."""
        return Filter(f"{self.name}$like:" + "*".join(escape(p) for p in pattern.split("*")))

    def in_(self, values: Iterable[int | Decimal]) -> Filter:
        return self._set_op("in", values)

    def nin(self, values: Iterable[int | Decimal]) -> Filter:
        return self._set_op("nin", values)

    def _set_op(self, op: str, values: Iterable[int | Decimal]) -> Filter:
        # e-conomic only supports $in/$nin on numeric properties, at most 200 values.
        items = list(values)
        if not items or len(items) > MAX_IN_VALUES:
            raise ValueError(f"${op} takes 1 to {MAX_IN_VALUES} values, got {len(items)}")
        if any(isinstance(v, bool) or not isinstance(v, int | Decimal) for v in items):
            raise ValueError(f"${op} works on numbers only")
        return Filter(f"{self.name}${op}:[{','.join(format_value(v) for v in items)}]")
