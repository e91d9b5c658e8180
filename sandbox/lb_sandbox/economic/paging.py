"""Collection responses: filter, sort, page, and wrap in e-conomic's pagination envelope."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from .errors import EconomicHTTPError
from .filtering import matches, parse_filter
from .state import Agreement, Entity

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise EconomicHTTPError(
            400, f"Invalid value for '{name}'.", f"'{name}' must be a whole number >= 0."
        )
    return value


def _sort_value(entity: Entity, path: str, alphabetic: bool) -> tuple[int, Any]:
    value: Any = entity
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return (0, "")  # absent first, as SQL's NULLs sort first ascending
    if alphabetic:
        return (2, str(value).casefold())
    if isinstance(value, int | Decimal | float):  # bool is an int: barred sorts false, true
        return (1, value)
    if isinstance(value, str):
        return (2, value.casefold())
    return (3, str(value))  # an object or a list: kept apart, in a fixed order


def sort_items(items: list[Entity], text: str) -> list[Entity]:
    """e-conomic's `sort`: `name`, `-name` (descending), `~name` (alphabetic, numbers as text),
    comma-separated, the first the most significant."""
    keys = [key.strip() for key in text.split(",")]
    ordered = list(items)
    for key in reversed(keys):  # stable sorts: the least significant key first
        descending = key.startswith("-")
        key = key.removeprefix("-")
        alphabetic = key.startswith("~")
        key = key.removeprefix("~")
        if not key or not all(part for part in key.split(".")):
            raise EconomicHTTPError(
                400,
                "Could not parse query string sort.",
                "Sort with ?sort=name, ?sort=-name (descending) or ?sort=~name (alphabetic), "
                "several comma-separated.",
            )
        ordered.sort(key=lambda e: _sort_value(e, key, alphabetic), reverse=descending)
    return ordered


def collection(
    request: Request,
    agreement: Agreement,
    path: str,
    items: Iterable[Entity],
    *,
    filterable: Sequence[str] = (),
    view: Any = None,
) -> dict[str, Any]:
    """`view` trims each item for the list (e.g. drafts are listed without their lines)."""
    skip = _int_param(request, "skippages", 0)
    size = _int_param(request, "pagesize", DEFAULT_PAGE_SIZE)
    if size < 1 or size > MAX_PAGE_SIZE:
        raise EconomicHTTPError(
            400,
            f"pagesize must be between 1 and {MAX_PAGE_SIZE}.",
            "Use skippages and pagesize to page through collections.",
        )
    everything = list(items)
    filter_text = request.query_params.get("filter")
    selected = everything
    if filter_text:
        node = parse_filter(filter_text, filterable)
        selected = [e for e in everything if matches(node, e)]
    sort_text = request.query_params.get("sort")
    if sort_text:
        selected = sort_items(selected, sort_text)

    def page_link(n: int) -> str:
        query: dict[str, Any] = {"skippages": n, "pagesize": size}
        if filter_text:
            query["filter"] = filter_text
        if sort_text:
            query["sort"] = sort_text
        return agreement.link(f"{path}?{urlencode(query)}")

    last = max(0, (len(selected) - 1) // size)
    page = selected[skip * size : (skip + 1) * size]
    pagination: dict[str, Any] = {
        "maxPageSizeAllowed": MAX_PAGE_SIZE,
        "skipPages": skip,
        "pageSize": size,
        "results": len(selected),
        "resultsWithoutFilter": len(everything),
        "firstPage": page_link(0),
    }
    if skip < last:
        pagination["nextPage"] = page_link(skip + 1)
    pagination["lastPage"] = page_link(last)
    return {
        "collection": [view(e) if view else e for e in page],
        "pagination": pagination,
        "self": page_link(skip),
    }
