"""The admin routes' query and path parameters, bounded the same way in every service and stated
in the OpenAPI, so that no input reaches the database as something it cannot hold (issue #17:
`make fuzz-api` holds every route to "no input gives a server error").

- ids within their column's range (an INTEGER id is 32-bit on PostgreSQL, a BIGINT 64-bit),
  e-conomic's range for customer numbers;
- `limit` from 1 to the route's documented maximum, `offset` from 0 to what SQL's OFFSET takes;
- amounts that are numbers (no NaN or infinity) of at most a trillion, to the millionth;
- times with a zone that stay within the years 1 to 9999 once in UTC (the stores keep UTC);
- no NUL character in any text: PostgreSQL's text and JSON types cannot hold U+0000, so a query
  or path parameter, or a JSON body, carrying one is refused with a 422 naming where it is
  (`refuse_nul_characters`, on every admin route) instead of failing in the store as a 500.

Each helper returns a fresh `Query`/`Path`, used as a parameter's default like FastAPI's own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import BigInteger, Integer, SmallInteger

# SQLite's INTEGER and PostgreSQL's BIGINT: a larger Python int cannot even be bound.
INT64_MAX = 2**63 - 1
# PostgreSQL's INTEGER (SQLAlchemy's Integer, e.g. an autoincrement id).
INT32_MAX = 2**31 - 1
# e-conomic's customer numbers (1 to 999,999,999).
CUSTOMER_NUMBER_MAX = 999_999_999
# Amounts in filters: the purchase report sums in millionths as 64-bit integers (reports.py),
# so a trillion is far beyond any real total and still fits.
AMOUNT_MAX = 10**12
AMOUNT_DECIMALS = 6


def limit_query(default: int, maximum: int) -> Any:
    return Query(default, ge=1, le=maximum, description=f"page size, 1 to {maximum}")


def offset_query() -> Any:
    return Query(0, ge=0, le=INT64_MAX, description="how many to skip (0 or more)")


def column_max(column: Any) -> int:
    """The largest value an integer column holds on every store we run on."""
    kind = getattr(column, "type", column)  # a column, a mapped attribute, or a type
    if isinstance(kind, BigInteger):
        return INT64_MAX
    if isinstance(kind, SmallInteger):
        return 2**15 - 1
    if isinstance(kind, Integer):
        return INT32_MAX
    raise TypeError(f"not an integer column: {column!r}")


def row_id_path(what: str, column: Any) -> Any:
    """A row's id in a path, within its `column`'s range."""
    largest = column_max(column)
    return Path(ge=1, le=largest, description=f"the {what}'s id, 1 to {largest}")


def customer_number_query() -> Any:
    return Query(
        None,
        ge=1,
        le=CUSTOMER_NUMBER_MAX,
        description=f"an e-conomic customer number, 1 to {CUSTOMER_NUMBER_MAX}",
    )


def amount_query(default: Decimal | None, description: str) -> Any:
    return Query(
        default,
        ge=-AMOUNT_MAX,
        le=AMOUNT_MAX,
        decimal_places=AMOUNT_DECIMALS,
        allow_inf_nan=False,
        description=f"{description} (a number up to {AMOUNT_MAX:,}, at most "
        f"{AMOUNT_DECIMALS} decimals)",
    )


def utc_time(name: str, value: datetime | None) -> datetime | None:
    """`value` in UTC. A time without a zone, or one that leaves the years 1 to 9999 once moved
    to UTC (e.g. 9999-12-31T23:00:00-05:00), is refused with a 422 naming the parameter."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise HTTPException(422, f"{name} needs a time zone, e.g. 2025-03-01T00:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise HTTPException(
            422, f"{name} is outside the years 1 to 9999 in UTC: {value.isoformat()}"
        ) from None


NUL = "\x00"


def _nul_in_json(value: Any, where: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """Where in a parsed JSON document a NUL sits (in a key or a string), or None."""
    if isinstance(value, str):
        return where if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                return (*where, key)
            found = _nul_in_json(item, (*where, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_in_json(item, (*where, index))
            if found is not None:
                return found
    return None


def _refusal(where: tuple[str | int, ...], value: Any) -> RequestValidationError:
    kind = {"path": "path parameter", "query": "query parameter", "body": "body field"}[
        str(where[0])
    ]
    name = ".".join(str(part) for part in where[1:]) or "(the body)"
    return RequestValidationError(
        [
            {
                "type": "nul_character",
                "loc": where,
                "msg": f"{kind} '{name}' contains a NUL character (U+0000), which no text "
                "can hold here; remove it",
                "input": value,
            }
        ]
    )


async def refuse_nul_characters(request: Request) -> None:
    """A dependency of every admin route (lb_common.admin): a 422 naming the path or query
    parameter, or the JSON body field, that carries a NUL character."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and NUL in value:
            raise _refusal(("path", name), value)
    for name, value in request.query_params.multi_items():
        if NUL in name or NUL in value:
            raise _refusal(("query", name), value)
    body = await request.body()  # cached on the request: the endpoint reads the same bytes
    if b"\\u0000" not in body and b"\x00" not in body:
        return  # the cheap test first: no NUL can be in it
    try:
        document = json.loads(body)
    except ValueError:
        return  # not JSON: FastAPI's own validation answers
    found = _nul_in_json(document, ("body",))
    if found is not None:
        raise _refusal(found, None)


__all__ = [
    "AMOUNT_MAX",
    "CUSTOMER_NUMBER_MAX",
    "INT32_MAX",
    "INT64_MAX",
    "amount_query",
    "column_max",
    "customer_number_query",
    "limit_query",
    "offset_query",
    "refuse_nul_characters",
    "row_id_path",
    "utc_time",
]
