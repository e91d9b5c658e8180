"""The QuickBooks companies and tokens in the sandbox's state file (persistence.py), so a
restarted `make up` still has the company its connections book into and the tokens they hold.

Kept: each company's name, currency preferences and records, and the live access and refresh
tokens. Not kept, as for e-conomic: the throttle's counters, the `requestid` replies and the
authorization codes (all short-lived), and the call counts.
"""

from __future__ import annotations

from typing import Any

from .state import AccessToken, Company, QuickBooksWorld, RefreshToken


def snapshot(world: QuickBooksWorld) -> dict[str, Any]:
    return {
        "companies": {
            realm: {
                "name": c.name,
                "home_currency": c.home_currency,
                "multicurrency": c.multicurrency,
                "entities": c.entities,
            }
            for realm, c in world.companies.items()
        },
        "access": {t: [a.realm_id, a.expires_at] for t, a in world.access.items()},
        "refresh": {t: [r.realm_id, r.client_id, r.expires_at] for t, r in world.refresh.items()},
    }


def restore(world: QuickBooksWorld, saved: dict[str, Any]) -> None:
    for realm, fields in saved.get("companies", {}).items():
        world.companies[realm] = Company(
            realm,
            fields["name"],
            home_currency=fields["home_currency"],
            multicurrency=fields["multicurrency"],
            entities=fields["entities"],
        )
    for token, (realm, expires) in saved.get("access", {}).items():
        world.access[token] = AccessToken(realm, expires)
    for token, (realm, client, expires) in saved.get("refresh", {}).items():
        world.refresh[token] = RefreshToken(realm, client, expires)
