"""e-conomic's custom encoding of string ids (product numbers) inside resource paths."""

from __future__ import annotations

from urllib.parse import quote

# e-conomic escapes these with `_<n>_` rather than %-encoding; `_` itself must go first so the
# escapes introduced afterwards are not escaped again.
_SELF_LINK_ESCAPES: tuple[tuple[str, str], ...] = (
    ("_", "_8_"),
    ("<", "_0_"),
    (">", "_1_"),
    ("*", "_2_"),
    ("%", "_3_"),
    (":", "_4_"),
    ("&", "_5_"),
    ("/", "_6_"),
    ("\\", "_7_"),
    (" ", "_9_"),
    ("?", "_10_"),
    (".", "_11_"),
    ("#", "_12_"),
    ("+", "_13_"),
)


def encode_id(value: str) -> str:
    """`"A_1/B"` → `"A_8_1_6_B"`; other characters are ordinary URL-encoded."""
    for raw, escaped in _SELF_LINK_ESCAPES:
        value = value.replace(raw, escaped)
    return quote(value, safe="_-~")
