"""DisplayName: unique across customers, vendors and employees in QuickBooks, so a name taken by
someone else needs a rule.

The rule: the name as the shop has it; if taken by another customer, vendor or employee, the
name followed by the match key in parentheses ("Ann Lee (ann@example.com)"); if that is taken
too, a counter after it ("Ann Lee (ann@example.com) 2", up to 9). The match key makes the name
explain itself to a bookkeeper and stay stable between runs, where a bare counter would depend
on the order customers arrived. Colons are replaced (QuickBooks uses them for sub-customers) and
the name is cut to 500 characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MAX_LENGTH = 500
TRIES_WITH_COUNTER = 8


def clean(name: str) -> str:
    return re.sub(r"\s+", " ", name.replace(":", " -")).strip()[:MAX_LENGTH]


def candidates(name: str, match_key: str) -> Iterator[str]:
    base = clean(name) or clean(match_key)
    yield base
    keyed = clean(f"{base} ({match_key})")
    yield keyed
    for n in range(2, 2 + TRIES_WITH_COUNTER):
        yield clean(f"{keyed} {n}")
