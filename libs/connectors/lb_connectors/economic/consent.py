"""Connecting an e-conomic agreement: e-conomic's app installation ("grant") flow, behind the
ledger port's `ConsentFlow` (lb_connectors/ledger/consent.py).

1. `start`: e-conomic's request-access page with our app's public token and a `redirectUrl`
   back to ingest (`<public_url>/grants/economic/<connection>?state=<one-time value>`).
2. A user of the agreement opens it and adds the app; e-conomic sends the browser to the
   redirect with the agreement grant token appended (`&token=...`).
3. `complete`: the grant token, with our app's secret token, become the connection's
   `EconomicCredentials`. Ingest then proposes settings from the agreement's reference data.

The app's public token, the installation page and how long a URL lasts are ingest's settings
(LEDGERBRIDGE_INGEST_ECONOMIC_*); the secret token is LEDGERBRIDGE_ECONOMIC_APP_SECRET_TOKEN.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from lb_connectors.ledger.consent import Connected, ConsentContext, ConsentLink, ConsentRefused

LOCALES = ("da-DK", "sv-SE", "nb-NO", "en-US")
INSTALLATION_URL = "https://secure.e-conomic.com/secure/api1/requestaccess.aspx"


class EconomicInstallation:
    """e-conomic's grant flow for one ingest (its settings read once, when first used)."""

    thing = "agreement"
    link = "installation URL"
    shared_redirect = False
    proposes_settings = True

    def __init__(self, context: ConsentContext) -> None:
        host = context.host
        self._settings = context.settings
        self._public_token: str | None = getattr(host, "economic_app_public_token", None)
        self._installation_url: str = getattr(host, "economic_installation_url", INSTALLATION_URL)
        self.minutes: float = getattr(host, "economic_grant_minutes", 30)

    def start(
        self, *, connection: str, redirect_uri: str, state: str, options: Mapping[str, Any]
    ) -> ConsentLink:
        if not self._public_token:
            raise ConsentRefused(
                409,
                "LEDGERBRIDGE_INGEST_ECONOMIC_APP_PUBLIC_TOKEN is not set: copy your e-conomic "
                "app's public token from its page in your developer agreement, set it and "
                "restart ingest",
            )
        locale = options.get("locale") or "en-US"
        if locale not in LOCALES:
            raise ConsentRefused(422, f"locale {locale!r} is not one of {', '.join(LOCALES)}")
        query = urlencode(
            {
                "appPublicToken": self._public_token,
                "redirectUrl": redirect_uri + "?" + urlencode({"state": state}),
                "locale": locale,
            }
        )
        return ConsentLink(
            answer={"installation_url": f"{self._installation_url}?{query}"},
            keep={"base_url": options.get("base_url") or self._settings.economic_base_url},
        )

    def check_callback(self, params: Mapping[str, str]) -> None:
        if not params.get("token"):
            raise ConsentRefused(
                400,
                "e-conomic sent no agreement grant token: the app was not added. Ask for a new "
                "installation URL and add the app on e-conomic's page",
            )

    def declined(self, params: Mapping[str, str]) -> str | None:
        return None  # e-conomic sends nobody back without a grant

    async def complete(
        self,
        *,
        connection: str,
        params: Mapping[str, str],
        keep: Mapping[str, str],
        redirect_uri: str,
    ) -> Connected:
        return Connected(
            credentials={
                "base_url": keep.get("base_url") or self._settings.economic_base_url,
                "app_secret_token": self._settings.economic_app_secret_token.get_secret_value(),
                "agreement_grant_token": params["token"],
            },
            facts={},
            books_into="this agreement",
        )

    async def aclose(self) -> None:
        return None
