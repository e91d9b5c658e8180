"""QuickBooks Online's query language, as its data-queries page describes it:

    SELECT * | COUNT(*) | Field[, Field] FROM Entity
      [WHERE cond [AND cond ...]] [ORDERBY Field [ASC|DESC]] [STARTPOSITION n] [MAXRESULTS n]

One entity, named case-sensitively; AND only (no OR, JOIN or GROUP BY); operators =, <, >, <=,
>=, LIKE (`%` wildcards only) and IN (...). Strings are single-quoted, a quote inside escaped
with a backslash. Only the filterable properties of an entity may appear in WHERE (the sandbox
lists them below; PrivateNote is not one). STARTPOSITION is 1-based, MAXRESULTS defaults to 100
and is capped at 1000. Name-list entities answer active rows only unless `Active` is filtered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .faults import QUERY_INVALID, QUERY_PARSER, QuickBooksFault, validation

FILTERABLE: dict[str, frozenset[str]] = {
    "Customer": frozenset(
        {
            "Id",
            "DisplayName",
            "GivenName",
            "FamilyName",
            "CompanyName",
            "PrimaryEmailAddr",
            "Active",
            "Balance",
        }
    ),
    "Item": frozenset({"Id", "Name", "Sku", "Type", "Active"}),
    "Account": frozenset({"Id", "Name", "AccountType", "AccountSubType", "Active"}),
    "TaxCode": frozenset({"Id", "Name", "Active"}),
    "Invoice": frozenset({"Id", "DocNumber", "TxnDate", "CustomerRef", "Balance", "TotalAmt"}),
    "CreditMemo": frozenset({"Id", "DocNumber", "TxnDate", "CustomerRef"}),
    "RefundReceipt": frozenset({"Id", "DocNumber", "TxnDate", "CustomerRef"}),
    "Payment": frozenset({"Id", "TxnDate", "CustomerRef", "PaymentRefNum"}),
}
_ALWAYS = frozenset({"MetaData.CreateTime", "MetaData.LastUpdatedTime"})
ACTIVE_ONLY = frozenset({"Customer", "Item", "Account", "TaxCode"})
DEFAULT_MAX, CAP_MAX = 100, 1000

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|=|<|>)"
    r"|(?P<punct>[(),*])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


def parser_error(detail: str) -> QuickBooksFault:
    return validation(QUERY_PARSER, "Error parsing query", f"QueryParserError: {detail}")


@dataclass
class Condition:
    field: str
    op: str
    values: list[Any]


@dataclass
class Query:
    entity: str
    fields: list[str] | None  # None: every field
    count: bool = False
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    start: int = 1
    max_results: int = DEFAULT_MAX


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise parser_error(f'Encountered "{text[pos : pos + 10]}" at column {pos + 1}')
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


class _Reader:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise parser_error("Encountered end of query, expected more")
        self.i += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].upper() == word:
            self.i += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            found = self.peek()
            raise parser_error(f'Encountered "{found[1] if found else "<EOF>"}", expected {word}')

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return _unquote(text)
        if kind == "num":
            return Decimal(text)
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise parser_error(f'Encountered "{text}", expected a value')


def parse(text: str) -> Query:
    r = _Reader(_tokens(text))
    r.expect_keyword("SELECT")
    fields: list[str] | None = []
    count = False
    if r.keyword("COUNT"):
        if [r.take()[1] for _ in range(3)] != ["(", "*", ")"]:
            raise parser_error("COUNT takes (*)")
        count, fields = True, None
    else:
        while True:
            kind, word = r.take()
            if word == "*":
                fields = None
            elif kind == "word" and fields is not None:
                fields.append(word)
            elif kind != "word":
                raise parser_error(f'Encountered "{word}" in the select list')
            if r.peek() == ("punct", ","):
                r.take()
                continue
            break
    r.expect_keyword("FROM")
    kind, entity = r.take()
    if kind != "word" or entity not in FILTERABLE:
        raise validation(QUERY_INVALID, "Invalid query", f"Entity {entity} is not supported")
    query = Query(entity, fields, count)
    if r.keyword("WHERE"):
        while True:
            kind, name = r.take()
            if kind != "word":
                raise parser_error(f'Encountered "{name}", expected a property')
            if name not in FILTERABLE[entity] and name not in _ALWAYS:
                raise validation(
                    QUERY_INVALID,
                    "Invalid query",
                    f"QueryValidationError: property '{name}' is not queryable",
                )
            op_token = r.take()
            op = op_token[1].upper()
            if op_token[0] == "op" or op == "LIKE":
                values = [r.value()]
            elif op == "IN":
                if r.take() != ("punct", "("):
                    raise parser_error("IN needs a parenthesised list")
                values = [r.value()]
                while r.peek() == ("punct", ","):
                    r.take()
                    values.append(r.value())
                if r.take() != ("punct", ")"):
                    raise parser_error("IN list not closed")
            elif op == "OR":
                raise parser_error('Encountered "OR": only AND joins conditions')
            else:
                raise parser_error(f'Encountered "{op_token[1]}", expected an operator')
            query.where.append(Condition(name, op, values))
            if r.keyword("AND"):
                continue
            if r.peek() and r.peek()[1].upper() == "OR":  # type: ignore[index]
                raise parser_error('Encountered "OR": only AND joins conditions')
            break
    if r.keyword("ORDERBY") or (r.keyword("ORDER") and r.keyword("BY")):
        while True:
            name = r.take()[1]
            desc = r.keyword("DESC")
            if not desc:
                r.keyword("ASC")
            query.order.append((name, desc))
            if r.peek() == ("punct", ","):
                r.take()
                continue
            break
    if r.keyword("STARTPOSITION"):
        query.start = _positive(r)
    if r.keyword("MAXRESULTS"):
        query.max_results = min(_positive(r), CAP_MAX)
    if r.peek() is not None:
        raise parser_error(f'Encountered "{r.peek()[1]}" after the end of the query')  # type: ignore[index]
    return query


def _positive(r: _Reader) -> int:
    kind, text = r.take()
    if kind != "num" or not text.isdigit() or int(text) < 1:
        raise parser_error(f'Encountered "{text}", expected a positive integer')
    return int(text)


def _field(row: dict[str, Any], name: str) -> Any:
    value: Any = row
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, dict):  # references and e-mail: their value / address
        return value.get("value", value.get("Address"))
    return value


def _comparable(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal | int):
        return Decimal(value)
    try:
        return Decimal(str(value)) if re.fullmatch(r"-?\d+(\.\d+)?", str(value)) else str(value)
    except InvalidOperation:
        return str(value)


def _matches(row: dict[str, Any], cond: Condition) -> bool:
    have = _comparable(_field(row, cond.field))
    if have is None:
        return False
    wants = [_comparable(v) for v in cond.values]
    if cond.op == "IN":
        return have in wants
    want = wants[0]
    if cond.op == "LIKE":
        pattern = "^" + ".*".join(re.escape(p) for p in str(want).split("%")) + "$"
        return re.match(pattern, str(have), re.IGNORECASE | re.DOTALL) is not None
    try:
        return {
            "=": have == want,
            "<": have < want,
            ">": have > want,
            "<=": have <= want,
            ">=": have >= want,
        }[cond.op]
    except TypeError:
        return False


def run(query: Query, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The QueryResponse for `query` over the entity's rows."""
    found = [r for r in rows if all(_matches(r, c) for c in query.where)]
    if query.entity in ACTIVE_ONLY and not any(c.field == "Active" for c in query.where):
        found = [r for r in found if r.get("Active", True)]
    if query.count:
        return {"totalCount": len(found)}
    for name, desc in reversed(query.order or [("Id", False)]):
        found.sort(key=lambda r: _sort_key(_field(r, name)), reverse=desc)
    page = found[query.start - 1 : query.start - 1 + query.max_results]
    if not page:
        return {}
    if query.fields:
        keep = {"Id", "SyncToken", *query.fields}
        page = [{k: v for k, v in r.items() if k in keep} for r in page]
    else:
        page = [{k: v for k, v in r.items() if not k.startswith("_")} for r in page]
    return {query.entity: page, "startPosition": query.start, "maxResults": len(page)}


def _sort_key(value: Any) -> tuple[int, Any]:
    v = _comparable(value)
    if isinstance(v, Decimal):
        return (0, v)
    return (1, str(v) if v is not None else "")
