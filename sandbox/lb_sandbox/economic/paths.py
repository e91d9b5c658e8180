"""Ids in paths: e-conomic's `_<n>_` escapes for string ids (product numbers), both directions,
and numbers (customer, invoice, journal numbers)."""

from __future__ import annotations

import re
from urllib.parse import quote

_ESCAPES: dict[str, int] = {
    "<": 0, ">": 1, "*": 2, "%": 3, ":": 4, "&": 5, "/": 6, "\\": 7, "_": 8, " ": 9,
    "?": 10, ".": 11, "#": 12, "+": 13,
}  # fmt: skip
_UNESCAPES = {str(n): ch for ch, n in _ESCAPES.items()}
_ESCAPED = re.compile(r"_(\d{1,2})_")


def encode_id(value: str) -> str:
    escaped = "".join(f"_{_ESCAPES[ch]}_" if ch in _ESCAPES else ch for ch in value)
    return quote(escaped, safe="_-~")


def decode_id(value: str) -> str:
    """Input is already %-decoded by the router; undo the `_<n>_` escapes."""
    return _ESCAPED.sub(lambda m: _UNESCAPES.get(m.group(1), m.group(0)), value)


# e-conomic's numbers are 32-bit; 18 digits is beyond any of them and always an int64.
_MAX_NUMBER_DIGITS = 18


def path_number(text: str) -> int | None:
    """A number in a path, or None: ASCII digits only (`str.isdigit` also takes "³", which
    `int` refuses) and not so long that `int` refuses it either."""
    if text.isascii() and text.isdigit() and len(text) <= _MAX_NUMBER_DIGITS:
        return int(text)
    return None
