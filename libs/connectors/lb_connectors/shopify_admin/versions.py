"""The GraphQL Admin API version we speak, and how long Shopify keeps serving it.

Shopify releases a version every quarter (January, April, July, October) and supports each for
at least 12 months; a request for a version no longer served "falls forward" to the oldest one
still supported, which can break us silently (shopify.dev/docs/api/usage/versioning). So the
version is pinned here, shown in the settings and health details, and a warning is logged while
it has less than three months of support left: time to move to a newer one.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

# 2026-04 and later: inventorySetQuantities needs `changeFromQuantity` on every quantity, and
# inventory mutations take an `@idempotent(key:)` directive.
API_VERSION = "2026-10"
SUPPORT_MONTHS = 12
WARN_MONTHS = 3

_VERSION = re.compile(r"^(\d{4})-(01|04|07|10)$")


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return date(day.year + index // 12, index % 12 + 1, 1)


def released(version: str) -> date:
    match = _VERSION.match(version)
    if match is None:
        raise ValueError(
            f"Shopify API version {version!r} is not a release name like 2026-10 "
            "(a year and 01, 04, 07 or 10)"
        )
    return date(int(match[1]), int(match[2]), 1)


def supported_until(version: str) -> date:
    """The first day Shopify may stop serving `version` (12 months after its release)."""
    return _add_months(released(version), SUPPORT_MONTHS)


def support_warning(version: str, today: date | None = None) -> str | None:
    """A sentence for the log and the health details when `version` is near its end, else None."""
    today = today or datetime.now(UTC).date()
    end = supported_until(version)
    if today >= end:
        return (
            f"Shopify API version {version} is past its support period (ended {end}); Shopify "
            "now answers with an older-behaving newer version. Move to a current version."
        )
    if today >= _add_months(end, -WARN_MONTHS):
        return (
            f"Shopify API version {version} is supported only until {end}; move ledgerbridge "
            "to a newer version before then."
        )
    return None


def webhook_version_warning(received: str | None, pinned: str = API_VERSION) -> str | None:
    """The sentence for a webhook delivery Shopify sent in another API version than the pinned
    one (its body's fields follow the app's webhook version, set in the app's configuration),
    else None. Logged by ingest and shown on the delivery."""
    if not received or received == pinned:
        return None
    return (
        f"Shopify sent this webhook in API version {received}; ledgerbridge is pinned to "
        f"{pinned}. Set the app's webhook API version to {pinned}."
    )


def version_at_least(version: str, minimum: str) -> bool:
    return released(version) >= released(minimum)
