"""Parse and evaluate e-conomic's `filter` syntax against stored entities.

Grammar: expr := and ($or: and)* ; and := term ($and: term)* ; term := '(' expr ')' | cond ;
cond := property '$' op ':' value. `$and:` binds tighter than `$or:`; callers who care use
parentheses, as e-conomic recommends. Escapes in values: `$$ $( $) $* $, $[ $]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import EconomicHTTPError

WILDCARD = "\x00"  # an unescaped `*` in a $like value
_OPS = ("gte", "lte", "eq", "ne", "gt", "lt", "like", "nin", "in")
_ESCAPABLE = "$()*,[]"


class FilterSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Cond:
    field: str
    op: str
    value: str | list[str] | None  # None means `$null:`


@dataclass(frozen=True)
class Junction:
    op: str  # "and" | "or"
    items: tuple[Node, ...]


Node = Cond | Junction


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def at(self, token: str) -> bool:
        return self.s.startswith(token, self.i)

    def parse(self) -> Node:
        node = self.expr()
        if self.i != len(self.s):
            raise FilterSyntaxError(f"unexpected text at position {self.i}")
        return node

    def expr(self) -> Node:
        items = [self.conjunction()]
        while self.at("$or:"):
            self.i += 4
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Junction("or", tuple(items))

    def conjunction(self) -> Node:
        items = [self.term()]
        while self.at("$and:"):
            self.i += 5
            items.append(self.term())
        return items[0] if len(items) == 1 else Junction("and", tuple(items))

    def term(self) -> Node:
        if self.at("("):
            self.i += 1
            node = self.expr()
            if not self.at(")"):
                raise FilterSyntaxError("missing ')'")
            self.i += 1
            return node
        return self.cond()

    def cond(self) -> Cond:
        match = re.compile(r"([A-Za-z][A-Za-z0-9_.]*)\$(" + "|".join(_OPS) + r"):").match(
            self.s, self.i
        )
        if match is None:
            raise FilterSyntaxError(f"expected <property>$<operator>: at position {self.i}")
        self.i = match.end()
        field, op = match.group(1), match.group(2)
        if op in ("in", "nin"):
            return Cond(field, op, self.value_list())
        if self.at("$null:"):
            self.i += 6
            return Cond(field, op, None)
        return Cond(field, op, self.value(stop=""))

    def value(self, *, stop: str) -> str:
        out: list[str] = []
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "$":
                if self.at("$and:") or self.at("$or:"):
                    break
                nxt = self.s[self.i + 1 : self.i + 2]
                if nxt and nxt in _ESCAPABLE:
                    out.append(nxt)
                    self.i += 2
                    continue
                raise FilterSyntaxError(f"unescaped '$' at position {self.i}")
            if c == ")" or c in stop:
                break
            out.append(WILDCARD if c == "*" else c)
            self.i += 1
        return "".join(out)

    def value_list(self) -> list[str]:
        if not self.at("["):
            raise FilterSyntaxError("$in/$nin need a [list]")
        self.i += 1
        values = [self.value(stop=",]")]
        while self.at(","):
            self.i += 1
            values.append(self.value(stop=",]"))
        if not self.at("]"):
            raise FilterSyntaxError("missing ']'")
        self.i += 1
        return values


def parse_filter(text: str, allowed: Iterable[str]) -> Node:
    try:
        node = _Parser(text).parse()
    except FilterSyntaxError as exc:
        raise EconomicHTTPError(
            400,
            "Could not parse query string filter.",
            "Filtering on collections can be done using the querystring parameter 'filter'.",
            errors=[f"Invalid filter: {exc}."],
        ) from exc
    allowed_list = list(allowed)
    for cond in _conditions(node):
        if cond.field not in allowed_list:
            raise EconomicHTTPError(
                400,
                "Could not parse query string filter.",
                "Filtering on collections can be done using the querystring parameter 'filter'.",
                errors=[f"Filtering is not allowed on property '{cond.field}'."],
                extra={"allowedFilteringFields": allowed_list},
            )
        if cond.op in ("in", "nin") and isinstance(cond.value, list):
            if len(cond.value) > 200 or any(_number(v) is None for v in cond.value):
                raise EconomicHTTPError(
                    400,
                    "Could not parse query string filter.",
                    "$in and $nin take at most 200 numeric values.",
                    errors=[f"Invalid values for '{cond.field}'."],
                )
    return node


def _conditions(node: Node) -> Iterable[Cond]:
    if isinstance(node, Cond):
        yield node
    else:
        for item in node.items:
            yield from _conditions(item)


def _lookup(entity: dict[str, Any], path: str) -> Any:
    value: Any = entity
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _compare(actual: Any, op: str, wanted: str) -> bool:
    if op == "like":
        if not isinstance(actual, str):
            return False
        if WILDCARD not in wanted:
            return wanted.lower() in actual.lower()  # $like without * is "contains"
        pattern = ".*".join(re.escape(p) for p in wanted.split(WILDCARD))
        return re.fullmatch(pattern, actual, flags=re.IGNORECASE | re.DOTALL) is not None
    left: Any
    right: Any
    if isinstance(actual, bool):
        left, right = str(actual).lower(), wanted.lower()
    elif isinstance(actual, int | Decimal):
        left, right = Decimal(actual), _number(wanted)
        if right is None:
            return op == "ne"
    else:
        left, right = str(actual).lower(), wanted.lower()
    return {
        "eq": left == right,
        "ne": left != right,
        "gt": left > right,
        "gte": left >= right,
        "lt": left < right,
        "lte": left <= right,
    }[op]


def matches(node: Node, entity: dict[str, Any]) -> bool:
    if isinstance(node, Junction):
        results = (matches(item, entity) for item in node.items)
        return all(results) if node.op == "and" else any(results)
    actual = _lookup(entity, node.field)
    if node.value is None:
        return (actual is None) == (node.op == "eq")
    if isinstance(node.value, list):
        numbers = {_number(v) for v in node.value}
        inside = isinstance(actual, int | Decimal) and Decimal(actual) in numbers
        return inside if node.op == "in" else not inside
    if actual is None:
        return node.op == "ne"
    return _compare(actual, node.op, node.value)
