"""The GraphQL documents this client sends, one named operation per `.graphql` file in
`documents/` (file name = operation name). The tests validate each against the sandbox's copy
of Shopify's schema, so a misspelt field fails in CI rather than in a shop."""

from __future__ import annotations

from functools import cache
from pathlib import Path

DOCUMENTS = Path(__file__).resolve().parent / "documents"


@cache
def document(name: str) -> str:
    path = DOCUMENTS / f"{name}.graphql"
    if not path.is_file():
        raise KeyError(f"no GraphQL document named {name!r} in {DOCUMENTS}")
    return path.read_text(encoding="utf-8")


def names() -> list[str]:
    return sorted(p.stem for p in DOCUMENTS.glob("*.graphql"))
