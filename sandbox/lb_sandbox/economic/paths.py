"""e-conomic's `_<n>_` escapes for string ids (product numbers) in paths, both directions."""

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
