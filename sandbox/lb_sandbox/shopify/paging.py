"""Cursor pagination as Shopify's REST Admin API does it: `limit` (≤ 250) and an opaque
`page_info` taken from the `Link` header's rel="next"/"previous" URLs. A page_info carries the
first request's filters, so a request with page_info may only add `limit` (and `fields`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from fastapi import Request

from .errors import ShopifyHTTPError

MAX_LIMIT = 250
DEFAULT_LIMIT = 50


def parse_limit(request: Request) -> int:
    raw = request.query_params.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw)
    except ValueError as exc:
        raise ShopifyHTTPError(400, {"limit": ["must be an integer"]}) from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise ShopifyHTTPError(400, {"limit": [f"must be between 1 and {MAX_LIMIT}"]})
    return limit


def encode(cursor: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor, separators=(",", ":")).encode()).decode()


def decode(page_info: str) -> dict[str, Any]:
    try:
        cursor = json.loads(base64.urlsafe_b64decode(page_info.encode()))
    except ValueError as exc:
        raise ShopifyHTTPError(400, {"page_info": ["Invalid value."]}) from exc
    if not isinstance(cursor, dict):
        raise ShopifyHTTPError(400, {"page_info": ["Invalid value."]})
    return cursor


def cursor_of(request: Request, filters: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The filters and offset in force: the first request's, or those inside page_info."""
    page_info = request.query_params.get("page_info")
    if page_info is None:
        return filters, 0
    extra = set(request.query_params) - {"page_info", "limit", "fields"}
    if extra:
        raise ShopifyHTTPError(
            400, {"page_info": [f"cannot be combined with {', '.join(sorted(extra))}"]}
        )
    cursor = decode(page_info)
    return dict(cursor.get("filters", {})), int(cursor.get("offset", 0))


def page(
    request: Request, items: Sequence[Any], filters: dict[str, Any], offset: int, limit: int
) -> tuple[list[Any], str | None]:
    """The slice to answer with and the Link header value (None when there is one page)."""
    chunk = list(items[offset : offset + limit])
    links: list[str] = []
    base = str(request.url.replace(query=""))
    if offset + limit < len(items):
        token = encode({"filters": filters, "offset": offset + limit})
        links.append(f'<{base}?limit={limit}&page_info={token}>; rel="next"')
    if offset > 0:
        token = encode({"filters": filters, "offset": max(0, offset - limit)})
        links.append(f'<{base}?limit={limit}&page_info={token}>; rel="previous"')
    return chunk, ", ".join(links) or None
