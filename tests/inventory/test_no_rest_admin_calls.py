"""Shopify's REST Admin API is legacy (since 2024-10-01): ledgerbridge calls only the GraphQL
Admin API. Webhook intake (Shopify calling us, with JSON bodies) is not a call to it.

This guard reads the source of every package (not the tests) for what a REST Admin call needs:
a REST resource path (`products.json`, `inventory_levels/set.json`, ...), the REST call-limit
header, or REST paging by `page_info`."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["libs", "services", "sandbox", "bench", "scripts"]
REST_SIGNS = [
    re.compile(r"""admin/api/[^"'\s]*/(?!graphql\.json)[a-z_/{}]+\.json"""),
    re.compile(
        r"""["'/](products|variants|locations|inventory_levels(/set)?|inventory_items|orders|"""
        r"""webhooks)(/count|/\{[a-z_]+\})?\.json"""
    ),
    re.compile(r"X-Shopify-Shop-Api-Call-Limit", re.IGNORECASE),
    re.compile(r"""["']page_info["']"""),
]


def test_no_source_calls_the_rest_admin_api():
    found = []
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for sign in REST_SIGNS:
                for match in sign.finditer(text):
                    line = text.count("\n", 0, match.start()) + 1
                    found.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)}")
    assert found == [], "REST Admin API use found:\n" + "\n".join(found)


def test_the_guard_sees_a_rest_call():
    sample = 'await http.get(f"admin/api/{version}/inventory_levels.json", params=p)'
    assert any(sign.search(sample) for sign in REST_SIGNS)
    assert not any(
        sign.search('await http.post(f"admin/api/{version}/graphql.json")') for sign in REST_SIGNS
    )
