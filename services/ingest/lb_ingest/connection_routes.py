"""Admin routes of a connection's onboarding (a ledger's consent, proposed settings, reference
data, Shopify webhook subscriptions), and the open routes a ledger's consent redirect comes
back to (`/grants/<kind>[/<connection>]`: e-conomic's installation, Intuit's consent).

The consent routes are generic over the ledger kinds that declare a consent flow
(lb_ingest/ledger_consent.py); `/economic/grant` and `/quickbooks/connect` are the same start,
kept at the paths people and scripts use."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from lb_common.connection_copies import ConnectionBook
from lb_common.db import Database
from lb_common.errors import LedgerbridgeError
from lb_common.sealing import SecretBox
from lb_connectors.keap import KeapDirectory
from lb_connectors.ledger import ReferenceData
from lb_connectors.ledger.consent import ConsentContext, ConsentRefused
from lb_connectors.ledgers import LedgerDirectory
from lb_connectors.shops import ShopDirectory
from lb_ingest import connection_onboarding as onboarding
from lb_ingest import connection_subscriptions as subscriptions
from lb_ingest import keap_hooks
from lb_ingest import ledger_consent as consent
from lb_ingest.connections import ConnectionCache, public_view
from lb_ingest.ledger_consent import ConsentFlows
from lb_ingest.settings import IngestSettings
from lb_ingest.store import ConnectionOnboarding, ShopConnection


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
        consents: ConsentFlows | None = None,
    ) -> None:
        self.db, self.box, self.book, self.cache = db, box, book, cache
        self.settings, self.ledgers, self.shops, self.keap = settings, ledgers, shops, keap
        self.consents = consents or ConsentFlows(ConsentContext(settings.common, host=settings))

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


def _refused(exc: ConsentRefused) -> HTTPException:
    return HTTPException(exc.status, str(exc))


async def _start(o: Onboarding, kind: str, name: str, options: dict[str, Any]) -> dict[str, Any]:
    try:
        return await consent.start(o.db, o.settings, o.consents, kind, name, options)
    except ConsentRefused as exc:
        raise _refused(exc) from None


async def _live(o: Onboarding, name: str) -> None:
    async with o.db.session() as session:
        connection = await session.get(ShopConnection, name)
    if connection is None or connection.deleted_at is not None:
        raise HTTPException(404, f"no connection named {name!r}")


def admin_router(o: Onboarding) -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.get("/connections/{name}")
    async def get_connection(name: str) -> dict[str, object]:
        """One connection with its onboarding: each ledger kind's consent (`ledger_consents`,
        also as `economic_grant` and `quickbooks_consent`), proposed settings, webhook
        subscriptions (secrets only as which ones are set)."""
        async with o.db.session() as session:
            row = await session.get(ShopConnection, name)
            state = await session.get(ConnectionOnboarding, name)
        if row is None:
            raise HTTPException(404, f"no connection named {name!r}")
        consents = consent.view(await consent.consents_of(o.db, name))
        shown = onboarding.view(state, o.settings)
        shown["ledger_consents"] = consents
        # The two kinds' consents under the names the console and scripts read since before
        # consents were generic.
        economic = consents.get("economic", {})
        shown["economic_grant"] = {
            "pending_until": economic.get("pending_until"),
            "granted_at": economic.get("connected_at"),
        }
        intuit = consents.get("quickbooks", {})
        shown["quickbooks_consent"] = {
            "pending_until": intuit.get("pending_until"),
            "connected_at": intuit.get("connected_at"),
            "realm_id": intuit.get("realm_id"),
        }
        return {**public_view(o.box, row), "onboarding": shown}

    @router.post("/connections/{name}/ledger/{kind}/connect")
    async def start_ledger_consent(
        name: str, kind: str, options: dict[str, Any] | None = Body(default=None)
    ) -> dict[str, Any]:
        """Start connecting a ledger of `kind` by its consent flow: open the returned link (its
        name depends on the kind: `installation_url`, `consent_url`) as a person of the ledger;
        the ledger sends the consent back to this ingest. `options` are the kind's (e-conomic:
        `base_url`, `locale`; QuickBooks: `base_url`). 404 for a kind without a consent flow.
        The connection keeps its ledger until the consent succeeds."""
        return await _start(o, kind, name, options or {})

    @router.post("/connections/{name}/economic/grant")
    async def start_grant(name: str, body: GrantRequest | None = None) -> dict[str, Any]:
        """Start e-conomic's grant flow: open the returned `installation_url` as a user of the
        agreement and add the app; e-conomic sends the grant back to this ingest."""
        body = body or GrantRequest()
        return await _start(o, "economic", name, body.model_dump(exclude_none=True))

    @router.post("/connections/{name}/quickbooks/connect")
    async def start_consent(name: str, body: ConsentRequest | None = None) -> dict[str, Any]:
        """Start connecting a QuickBooks company: open the returned `consent_url` as the
        company's bookkeeper, sign in to Intuit, pick the company and connect; Intuit sends the
        consent back to this ingest (`redirect_uri`, to register on the Intuit app). The
        connection keeps its ledger until that succeeds."""
        body = body or ConsentRequest()
        return await _start(o, "quickbooks", name, body.model_dump(exclude_none=True))

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
        """The ledger's reference data, read now through the ledger port, in the shape the
        console's pick lists read: customer groups, payment terms, VAT zones (those for
        customers; a QuickBooks company's tax codes), layouts and, with `products=true`, up to
        1,000 products (QuickBooks: items by SKU). 409 with the reason when the ledger cannot
        be read. Every kind's lists in neutral form: `/ledger/reference`."""
        return onboarding.reference_view(await _reference(name, products))

    @router.get("/connections/{name}/ledger/reference")
    async def ledger_reference(name: str, items: bool = False) -> dict[str, Any]:
        """The connection's ledger's reference data, read now through the ledger port, for any
        ledger kind: `kind`, and lists of `{id, name, facts}`: customer groups, payment terms,
        tax zones (e-conomic's VAT zones, QuickBooks' tax codes), layouts, currencies,
        clearing accounts, journals and, with `items=true`, up to 1,000 items (`more_items`
        if there are more). A list the ledger does not have is empty. 409 with the reason when
        the ledger cannot be read."""
        data = await _reference(name, items)
        return {"kind": o.ledgers.ledger(name).kind, **data.model_dump(mode="json")}

    async def _reference(name: str, items: bool) -> ReferenceData:
        await _live(o, name)
        try:
            return await onboarding.read_reference(o.ledgers, name, products=items)
        except LedgerbridgeError as exc:
            raise HTTPException(
                409, f"the ledger's reference data could not be read: {exc.reason}"
            ) from None
        except TimeoutError:
            raise HTTPException(
                409, "the ledger's reference data could not be read in time"
            ) from None

    @router.post("/connections/{name}/economic/proposal/confirm")
    async def confirm_proposal(name: str) -> dict[str, Any]:
        """Mark the proposed settings confirmed: apply `settings.<service>` to each service
        first (the console does both; by hand: merge into that service's
        `PUT /connections/{name}/settings`)."""
        try:
            return await onboarding.confirm_proposal(o.db, name)
        except ConsentRefused as exc:
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
    """Open (no admin token): a browser arrives here from a ledger's consent page; the
    one-time `state` in the address is what authorises it."""
    router = APIRouter(tags=["onboarding"])

    async def landed(kind: str, request: Request, name: str | None) -> HTMLResponse:
        params = dict(request.query_params)
        thing = f"{kind} ledger"
        try:
            thing = o.consents.flow(kind).thing
            done = await consent.complete(
                o.db, o.box, o.settings, o.consents, kind, params, name=name
            )
        except ConsentRefused as exc:
            return _page(f"No {thing} was connected", str(exc), exc.status)
        o.cache.forget(done.connection)
        if done.copy is not None:
            o.book.apply(done.copy)
        text = f"Connection {done.connection} now books into {done.books_into}."
        if done.proposes_settings:  # this process uses the new credentials at once
            row = await onboarding.read_proposal(o.db, o.ledgers, done.connection)
            if row.proposal_error:
                text = (
                    f"Connection {done.connection} now books into {done.books_into}, but "
                    f"{row.proposal_error}. Read it again from the connection's page."
                )
            else:
                text += (
                    f" Settings were proposed from the {done.thing}'s own customer groups, "
                    "payment terms, VAT zones and layouts: review and confirm them on the "
                    "connection's page."
                )
        return _page(f"The {done.thing} is connected", text, 200)

    # The two flows' redirects by name, with the parameters each sends (for the API docs);
    # the generic routes below answer them the same.
    @router.get("/grants/economic/{name}", response_class=HTMLResponse)
    async def take_economic_grant(
        name: str, request: Request, state: str = "", token: str = ""
    ) -> HTMLResponse:
        """e-conomic's redirect after "Add app": the grant token is sealed onto the connection
        and settings are proposed from the agreement (a page tells the user what happened)."""
        return await landed("economic", request, name)

    @router.get("/grants/quickbooks", response_class=HTMLResponse)
    async def take_quickbooks_consent(
        request: Request,
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
        return await landed("quickbooks", request, None)

    @router.get("/grants/{kind}", response_class=HTMLResponse)
    async def take_consent(kind: str, request: Request) -> HTMLResponse:
        """A ledger's redirect after a consent, for kinds with one redirect for every
        connection (QuickBooks: Intuit sends `code`, `state`, `realmId`, or
        `error=access_denied` when declined). The credentials are stored sealed and the
        connection's ledger becomes what was consented to (a page tells the user what
        happened)."""
        return await landed(kind, request, None)

    @router.get("/grants/{kind}/{name}", response_class=HTMLResponse)
    async def take_grant(kind: str, name: str, request: Request) -> HTMLResponse:
        """A ledger's redirect after a consent for connection `name` (e-conomic's "Add app":
        `state` and the agreement grant `token`): the credentials are sealed onto the
        connection and, where the kind proposes settings, they are proposed from the ledger's
        reference data (a page tells the user what happened)."""
        return await landed(kind, request, name)

    return router
