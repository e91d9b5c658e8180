"""Keap's quotas per credential [KQ]: an OAuth app 1,500 calls a minute and 150,000 a day; a
personal access token or service account key 240 a minute and 30,000 a day (days reset at
00:00 UTC). Every answer carries x-keap-product-throttle-* (this minute) and
x-keap-product-quota-* (today); a call past either limit is answered 429.

The sandbox counts per tenant; tests lower the limits with POST /_sandbox/keap/{key}/limits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import throttled
from .state import Credential, Tenant

LIMITS: dict[Credential, tuple[int, int]] = {
    "oauth": (1500, 150_000),
    "api_key": (240, 30_000),
}


@dataclass
class Overrides:
    per_minute: int | None = None
    per_day: int | None = None


def count_call(tenant: Tenant, credential: Credential, overrides: Overrides) -> dict[str, str]:
    """Count one call; returns the quota headers, or raises the 429 when a limit is spent."""
    per_minute, per_day = LIMITS[credential]
    per_minute = overrides.per_minute or per_minute
    per_day = overrides.per_day or per_day
    minute = int(time.time() // 60)
    today = datetime.now(UTC).date().isoformat()
    used_minute = tenant.minute[1] if tenant.minute[0] == minute else 0
    used_day = tenant.day[1] if tenant.day[0] == today else 0
    refused = used_minute >= per_minute or used_day >= per_day
    if not refused:
        used_minute += 1
        used_day += 1
        tenant.minute = (minute, used_minute)
        tenant.day = (today, used_day)
    headers = {
        "x-keap-product-throttle-limit": str(per_minute),
        "x-keap-product-throttle-available": str(max(per_minute - used_minute, 0)),
        "x-keap-product-throttle-used": str(used_minute),
        "x-keap-product-throttle-time-unit": "minute",
        "x-keap-product-quota-limit": str(per_day),
        "x-keap-product-quota-available": str(max(per_day - used_day, 0)),
        "x-keap-product-quota-used": str(used_day),
        "x-keap-product-quota-time-unit": "day",
    }
    if refused:
        raise throttled(headers)
    return headers
