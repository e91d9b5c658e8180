"""Shopify's global ids (`gid://shopify/{Type}/{number}`) ↔ the numbers ledgerbridge stores.

Our tables and settings keep the numeric ids (the same numbers webhooks carry as `id`); the
GraphQL client turns them into GIDs on the way out and back into numbers on the way in.
"""

from __future__ import annotations

import re

_GID = re.compile(r"^gid://shopify/([A-Za-z]+)/(\d+)(?:\?.*)?$")


def gid(kind: str, number: int | str) -> str:
    text = str(number).strip()
    if _GID.match(text):
        return text
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a Shopify {kind} id")
    return f"gid://shopify/{kind}/{text}"


def number(value: str) -> str:
    """The numeric part of a GID (or a number given as it is), as text."""
    match = _GID.match(value.strip())
    if match:
        return match[2]
    if value.strip().isdigit():
        return value.strip()
    raise ValueError(f"{value!r} is not a Shopify id")
