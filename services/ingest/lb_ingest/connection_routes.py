"""Admin routes of a connection's onboarding (e-conomic grant flow, proposed settings, QuickBooks
consent, Shopify webhook subscriptions), and the open routes e-conomic's grant redirect and
Intuit's consent redirect come back to."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from lb_common.connection_copies import ConnectionBook
from lb_common.db import Database
from lb_common.errors import LedgerbridgeError
from lb_common.sealing import SecretBox
from lb_connectors.keap import KeapDirectory
from lb_connectors.ledgers import LedgerDirectory
from lb_connectors.shops import ShopDirectory
from lb_ingest import connection_onboarding as onboarding
from lb_ingest import connection_subscriptions as subscriptions
from lb_ingest import keap_hooks
from lb_ingest import quickbooks_connect as quickbooks
from lb_ingest.connection_onboarding import OnboardingRefused
from lb_ingest.connections import ConnectionCache, public_view
from lb_ingest.quickbooks_connect import QuickBooksConnector
from lb_ingest.settings import IngestSettings
from lb_ingest.store import ConnectionOnboarding, QuickBooksConsent, ShopConnection


class GrantRequest(BaseModel):
    base_url: str | None = Field(
        default=None,
        description="The agreement's REST address; omitted: LEDGERBRIDGE_ECONOMIC_BASE_URL "
        "(https://restapi.e-conomic.com in production).",
    )
    locale: str = Field(default="en-US", description="da-DK, sv-SE, nb-NO or en-US.")


class ConsentRequest(BaseModel):
    base_url: str | None = Field(
        default=None,
        description="The QuickBooks API host the company is called at; omitted: "
        "LEDGERBRIDGE_QUICKBOOKS_API_URL (https://quickbooks.api.intuit.com in production, "
        "https://sandbox-quickbooks.api.intuit.com for Intuit's sandbox companies).",
    )


class Onboarding:
    """The dependencies the routes share."""

    def __init__(
        self,
        db: Database,
        box: SecretBox,
        book: ConnectionBook,
        cache: ConnectionCache,
        settings: IngestSettings,
        ledgers: LedgerDirectory,
        shops: ShopDirectory,
        keap: KeapDirectory | None = None,
        quickbooks: QuickBooksConnector | None = None,
    ) -> None:
        self.db, self.box, self.book, self.cache = db, box, book, cache
        self.settings, self.ledgers, self.shops, self.keap = settings, ledgers, shops, keap
        self.quickbooks = quickbooks or QuickBooksConnector(box)

    async def check_subscriptions(self, name: str) -> dict[str, Any]:
        found = await self.cache.get(name)
        if found is not None and found.platform == "keap" and self.keap is not None:
            return await keap_hooks.check(
                self.db, self.cache, self.keap, self.settings.public_url, name
            )
        return await subscriptions.check(self.db, self.shops, self.settings.public_url, name)

    async def after_save(self, name: str, platform: str) -> None:
        """A saved Shopify connection gets its webhook subscriptions at once, a Keap one its
        REST hooks."""
        if platform in ("shopify", "keap") and self.settings.public_url:
            await self.check_subscriptions(name)


def _refused(exc: OnboardingRefused) -> HTTPException:
    return HTTPException(exc.status, str(exc))


def admin_router(o: Onboarding) -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.get("/connections/{name}")
    async def get_connection(name: str) -> dict[str, object]:
        """One connection with its onboarding: e-conomic grant, proposed settings, QuickBooks
        consent, webhook subscriptions (secrets only as which ones are set)."""
        async with o.db.session() as session:
            row = await session.get(ShopConnection, name)
            state = await session.get(ConnectionOnboarding, name)
            consent = await session.get(QuickBooksConsent, name)
        if row is None:
            raise HTTPException(404, f"no connection named {name!r}")
        shown = onboarding.view(state, o.settings)
        shown["quickbooks_consent"] = quickbooks.view(consent)
        return {**public_view(o.box, row), "onboarding": shown}

    @router.post("/connections/{name}/economic/grant")
    async def start_grant(name: str, body: GrantRequest | None = None) -> dict[str, Any]:
        """Start e-conomic's grant flow: open the returned `installation_url` as a user of the
        agreement and add the app; e-conomic sends the grant back to this ingest."""
        body = body or GrantRequest()
        try:
            return await onboarding.start_grant(
                o.db, o.settings, name, base_url=body.base_url, locale=body.locale
            )
        except OnboardingRefused as exc:
            raise _refused(exc) from None

    @router.post("/connections/{name}/quickbooks/connect")
    async def start_consent(name: str, body: ConsentRequest | None = None) -> dict[str, Any]:
        """Start connecting a QuickBooks company: open the returned `consent_url` as the
        company's bookkeeper, sign in to Intuit, pick the company and connect; Intuit sends the
        consent back to this ingest (`redirect_uri`, to register on the Intuit app). The
        connection keeps its ledger until that succeeds."""
        body = body or ConsentRequest()
        try:
            return await quickbooks.start_consent(
                o.db, o.settings, o.quickbooks, name, base_url=body.base_url
            )
        except OnboardingRefused as exc:
            raise _refused(exc) from None

    @router.post("/connections/{name}/economic/proposal")
    async def read_proposal(name: str) -> dict[str, Any]:
        """Read the agreement's reference data again and propose settings from it."""
        async with o.db.session() as session:
            connection = await session.get(ShopConnection, name)
        if connection is None:
            raise HTTPException(404, f"no connection named {name!r}")
        if connection.deleted_at is not None:
            raise HTTPException(409, f"connection {name!r} was deleted; create it again first")
        row = await onboarding.read_proposal(o.db, o.ledgers, name)
        if row.proposal is None:
            # The agreement could not be read (tokens, a refusal, no answer): the reason says
            # what to fix; the request may be repeated then.
            raise HTTPException(409, row.proposal_error or "no proposal")
        return row.proposal

    @router.get("/connections/{name}/economic/reference")
    async def reference(name: str, products: bool = False) -> dict[str, Any]:
        """The agreement's reference data, read now with the connection's ledger: customer
        groups, payment terms, VAT zones (those for customers), layouts and, with
        `products=true`, up to 1,000 products; for the console's pick lists. 409 with the
        reason when the ledger cannot be read."""
        async with o.db.session() as session:
            connection = await session.get(ShopConnection, name)
        if connection is None or connection.deleted_at is not None:
            raise HTTPException(404, f"no connection named {name!r}")
        try:
            data = await onboarding.read_reference(o.ledgers, name, products=products)
        except LedgerbridgeError as exc:
            raise HTTPException(
                409, f"the agreement's reference data could not be read: {exc.reason}"
            ) from None
        except TimeoutError:
            raise HTTPException(
                409, "the agreement's reference data could not be read in time"
            ) from None
        return onboarding.reference_view(data)

    @router.post("/connections/{name}/economic/proposal/confirm")
    async def confirm_proposal(name: str) -> dict[str, Any]:
        """Mark the proposed settings confirmed: apply `settings.<service>` to each service
        first (the console does both; by hand: merge into that service's
        `PUT /connections/{name}/settings`)."""
        try:
            return await onboarding.confirm_proposal(o.db, name)
        except OnboardingRefused as exc:
            raise _refused(exc) from None

    @router.post("/connections/{name}/webhook-subscriptions/check")
    async def check_subscriptions(name: str) -> dict[str, Any]:
        """Check the shop's webhook subscriptions now; a missing or wrong one is re-created."""
        return await o.check_subscriptions(name)

    return router


def _page(title: str, text: str, status: int) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>",
        status_code=status,
    )


def grant_router(o: Onboarding) -> APIRouter:
    """Open (no admin token): a browser arrives here from e-conomic; the one-time `state` in
    the address is what authorises it."""
    router = APIRouter(tags=["onboarding"])

    @router.get("/grants/economic/{name}", response_class=HTMLResponse)
    async def take_grant(name: str, state: str = "", token: str = "") -> HTMLResponse:
        """e-conomic's redirect after "Add app": the grant token is sealed onto the connection
        and settings are proposed from the agreement (a page tells the user what happened)."""
        try:
            granted = await onboarding.take_grant(
                o.db, o.box, o.settings.common, name, state, token
            )
        except OnboardingRefused as exc:
            return _page("The agreement was not connected", str(exc), exc.status)
        row = await onboarding.after_grant(o.db, o.ledgers, o.book, o.cache, name, granted)
        if row.proposal_error:
            text = (
                f"Connection {name} now books into this agreement, but {row.proposal_error}. "
                "Read it again from the connection's page."
            )
        else:
            text = (
                f"Connection {name} now books into this agreement. Settings were proposed from "
                "the agreement's own customer groups, payment terms, VAT zones and layouts: "
                "review and confirm them on the connection's page."
            )
        return _page("The agreement is connected", text, 200)

    @router.get(quickbooks.REDIRECT_PATH, response_class=HTMLResponse)
    async def take_consent(
        state: str = "",
        code: str = "",
        realmId: str = "",  # Intuit's name for the company id
        error: str = "",
        error_description: str = "",
    ) -> HTMLResponse:
        """Intuit's redirect after the bookkeeper connected a company (`code`, `state`,
        `realmId`) or declined (`error=access_denied`): the code is exchanged for tokens, which
        are stored sealed, and the connection's ledger becomes that company (a page tells the
        user what happened)."""
        if error:
            text = await quickbooks.decline(o.db, state, error, error_description)
            return _page("No QuickBooks company was connected", text, 403)
        try:
            consented = await quickbooks.take_consent(
                o.db, o.box, o.settings, o.quickbooks, state=state, code=code, realm_id=realmId
            )
        except OnboardingRefused as exc:
            return _page("No QuickBooks company was connected", str(exc), exc.status)
        o.cache.forget(consented.connection)
        if consented.copy is not None:
            o.book.apply(consented.copy)
        text = (
            f"Connection {consented.connection} now books into QuickBooks company "
            f"{consented.realm_id}."
        )
        return _page("The QuickBooks company is connected", text, 200)

    return router
