"""Connecting an e-conomic agreement to a connection, the way e-conomic does it: the grant flow.

1. `start_grant`: the operator asks for an installation URL. It is e-conomic's request-access
   page with our app's public token and a `redirectUrl` back to this ingest
   (`<public_url>/grants/economic/<connection>?state=<one-time value>`).
2. A user of the agreement opens it and adds the app; e-conomic sends the browser to the
   redirect with the agreement grant token appended (`&token=...`).
3. `take_grant`: the state is checked (once, before it expires), the grant token is sealed onto
   the connection's ledger with our app's secret token, and every service gets it
   (connection.changed).
4. `read_proposal`: the agreement's own reference data (customer groups, payment terms, VAT
   zones, layouts) is read with the new credentials and settings are proposed from it
   (connection_proposal.py), shown on the connection until the operator confirms them.

Only the state's SHA-256 is stored; the grant token lives sealed on the connection only.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from lb_common.connection_copies import ConnectionBook, ConnectionCopy
from lb_common.db import Database, utcnow
from lb_common.errors import LedgerbridgeError
from lb_common.metric_labels import for_connection
from lb_common.sealing import SecretBox
from lb_common.settings import CommonSettings
from lb_connectors.economic.models import CustomerGroup, Layout, PaymentTerms, Product, VatZone
from lb_connectors.ledgers import LedgerDirectory
from lb_ingest.connection_proposal import as_settings, described, propose
from lb_ingest.connections import ConnectionCache, announce, opened, seal_into
from lb_ingest.settings import IngestSettings
from lb_ingest.store import ConnectionOnboarding, ShopConnection

log = logging.getLogger(__name__)

LOCALES = ("da-DK", "sv-SE", "nb-NO", "en-US")
#: How long reading the agreement's reference data may take before the redirect answers anyway.
PROPOSAL_TIMEOUT = 30.0


class OnboardingRefused(Exception):
    """The step cannot be done; `status` is the HTTP status the routes answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def grant_path(name: str) -> str:
    return f"/grants/economic/{quote(name, safe='')}"


async def onboarding_row(session: Any, name: str) -> ConnectionOnboarding:
    row: ConnectionOnboarding | None = await session.get(ConnectionOnboarding, name)
    return row if row is not None else ConnectionOnboarding(connection=name)


async def keep_subscription_check(
    db: Database, name: str, report: list[dict[str, Any]], error: str | None
) -> None:
    """The outcome of a check of the connection's webhook subscriptions (Shopify) or hooks
    (Keap), as `GET /connections/{name}` shows it. A failed check keeps the last report."""
    async with db.transaction() as session:
        row = await onboarding_row(session, name)
        if report or error is None:
            row.subscriptions = report
        row.subscriptions_error = error
        row.subscriptions_checked_at = utcnow()
        session.add(row)


async def live_connection(session: Any, name: str) -> ShopConnection:
    row: ShopConnection | None = await session.get(ShopConnection, name)
    if row is None or row.deleted_at is not None:
        raise OnboardingRefused(
            404, f"no connection named {name!r}: create it first (PUT /connections/{name})"
        )
    return row


async def start_grant(
    db: Database,
    settings: IngestSettings,
    name: str,
    *,
    base_url: str | None = None,
    locale: str = "en-US",
) -> dict[str, Any]:
    """A new installation URL for the connection (an older one stops working)."""
    if not settings.public_url:
        raise OnboardingRefused(
            409,
            "LEDGERBRIDGE_INGEST_PUBLIC_URL is not set: e-conomic needs ingest's public address "
            "to send the grant back to; set it and restart ingest",
        )
    if not settings.economic_app_public_token:
        raise OnboardingRefused(
            409,
            "LEDGERBRIDGE_INGEST_ECONOMIC_APP_PUBLIC_TOKEN is not set: copy your e-conomic app's "
            "public token from its page in your developer agreement, set it and restart ingest",
        )
    if locale not in LOCALES:
        raise OnboardingRefused(422, f"locale {locale!r} is not one of {', '.join(LOCALES)}")
    state = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(minutes=settings.economic_grant_minutes)
    async with db.transaction() as session:
        await live_connection(session, name)
        row = await onboarding_row(session, name)
        row.grant_state_sha256 = _digest(state)
        row.grant_expires_at = expires
        row.grant_base_url = base_url or settings.common.economic_base_url
        session.add(row)
    redirect = (
        settings.public_url.rstrip("/") + grant_path(name) + "?" + urlencode({"state": state})
    )
    query = urlencode(
        {
            "appPublicToken": settings.economic_app_public_token,
            "redirectUrl": redirect,
            "locale": locale,
        }
    )
    return {
        "installation_url": f"{settings.economic_installation_url}?{query}",
        "expires_at": expires,
    }


@dataclass(frozen=True)
class Granted:
    copy: ConnectionCopy | None


async def take_grant(
    db: Database, box: SecretBox, common: CommonSettings, name: str, state: str, token: str
) -> Granted:
    """The redirect's grant token onto the connection, sealed, if `state` is the pending one."""
    if not token:
        raise OnboardingRefused(
            400,
            "e-conomic sent no agreement grant token: the app was not added. Ask for a new "
            "installation URL and add the app on e-conomic's page",
        )
    async with db.transaction() as session:
        shop_connection = await live_connection(session, name)
        row = await onboarding_row(session, name)
        pending = row.grant_state_sha256
        if not pending or not state or not hmac.compare_digest(pending, _digest(state)):
            raise OnboardingRefused(
                403,
                "this grant does not match the installation URL asked for last (it was used "
                "already, or a newer one was made): ask for a new installation URL",
            )
        if row.grant_expires_at is None or row.grant_expires_at < utcnow():
            raise OnboardingRefused(
                403, "the installation URL has expired: ask for a new one and use it in time"
            )
        secrets_ = opened(box, shop_connection)
        secrets_["ledger"] = {
            "kind": "economic",
            "credentials": {
                "base_url": row.grant_base_url or common.economic_base_url,
                "app_secret_token": common.economic_app_secret_token.get_secret_value(),
                "agreement_grant_token": token,
            },
        }
        seal_into(box, shop_connection, secrets_)
        shop_connection.revision += 1
        session.add(shop_connection)
        row.grant_state_sha256 = None
        row.grant_expires_at = None
        row.granted_at = utcnow()
        row.proposal, row.proposal_error, row.proposal_confirmed_at = None, None, None
        session.add(row)
        copy = await announce(session, box, shop_connection)
    log.info("e-conomic agreement granted", extra={"data": {"connection": name}})
    return Granted(copy)


@dataclass(frozen=True)
class ReferenceData:
    """The agreement's own choices a connection's settings pick from."""

    groups: list[CustomerGroup]
    terms: list[PaymentTerms]
    zones: list[VatZone]
    layouts: list[Layout]
    products: list[Product]  # the first page only (MAX_PRODUCTS)
    more_products: bool


#: Products offered as choices: one page of the ledger's (the settings page lists them).
MAX_PRODUCTS = 1000


async def read_reference(
    ledgers: LedgerDirectory, name: str, *, products: bool = False
) -> ReferenceData:
    """Read the agreement's reference data with the connection's ledger (raises
    LedgerbridgeError or TimeoutError when it cannot be read)."""

    async def first_products() -> list[Product]:
        found: list[Product] = []
        if products:
            async for product in client.iter_products(page_size=MAX_PRODUCTS):
                found.append(product)
                if len(found) > MAX_PRODUCTS:
                    break
        return found

    client = ledgers.for_connection(name)
    with for_connection(name):  # the calls count under this connection's label
        groups, terms, zones, layouts, items = await asyncio.wait_for(
            asyncio.gather(
                client.list_customer_groups(),
                client.list_payment_terms(),
                client.list_vat_zones(),
                client.list_layouts(),
                first_products(),
            ),
            PROPOSAL_TIMEOUT,
        )
    return ReferenceData(
        groups, terms, zones, layouts, items[:MAX_PRODUCTS], len(items) > MAX_PRODUCTS
    )


def reference_view(data: ReferenceData) -> dict[str, Any]:
    """As the admin API answers it: number and name of each choice (for pick lists)."""
    return {
        "customer_groups": [
            {"number": g.customer_group_number, "name": g.name} for g in data.groups
        ],
        "payment_terms": [
            {
                "number": t.payment_terms_number,
                "name": t.name,
                "type": t.payment_terms_type,
                "days_of_credit": t.days_of_credit,
            }
            for t in data.terms
        ],
        "vat_zones": [
            {"number": z.vat_zone_number, "name": z.name}
            for z in data.zones
            if z.enabled_for_customer
        ],
        "layouts": [
            {"number": x.layout_number, "name": x.name} for x in data.layouts if not x.deleted
        ],
        "products": [
            {"number": p.product_number, "name": p.name} for p in data.products if not p.barred
        ],
        "more_products": data.more_products,
    }


async def read_proposal(db: Database, ledgers: LedgerDirectory, name: str) -> ConnectionOnboarding:
    """Read the agreement's reference data and store the settings proposed from it (or why
    they could not be read)."""
    proposal: dict[str, Any] | None = None
    error: str | None = None
    try:
        data = await read_reference(ledgers, name)
        groups, terms, zones, layouts = data.groups, data.terms, data.zones, data.layouts
        choices = propose(groups, terms, zones, layouts)
        proposal = {
            "settings": as_settings(choices),
            "choices": described(choices),
            "reference": {
                "customer_groups": len(groups),
                "payment_terms": len(terms),
                "vat_zones": len(zones),
                "layouts": len(layouts),
            },
        }
    except LedgerbridgeError as exc:
        error = f"the agreement's reference data could not be read: {exc.reason}"
    except TimeoutError:
        error = "the agreement's reference data could not be read in time"
    async with db.transaction() as session:
        row = await onboarding_row(session, name)
        row.proposal, row.proposal_error = proposal, error
        row.proposal_read_at = utcnow()
        row.proposal_confirmed_at = None
        session.add(row)
    if error:
        log.warning("no settings proposed", extra={"data": {"connection": name, "why": error}})
    return row


async def confirm_proposal(db: Database, name: str) -> dict[str, Any]:
    """Mark the proposal confirmed (the operator applied it to the services' settings)."""
    async with db.transaction() as session:
        row = await session.get(ConnectionOnboarding, name)
        if row is None or row.proposal is None:
            raise OnboardingRefused(
                409,
                f"connection {name!r} has no proposed settings: grant an agreement first, or "
                f"read it again (POST /connections/{name}/economic/proposal)",
            )
        row.proposal_confirmed_at = utcnow()
        session.add(row)
        proposal: dict[str, Any] = row.proposal
    return proposal


def view(row: ConnectionOnboarding | None, settings: IngestSettings) -> dict[str, Any]:
    """The onboarding as the connection's page shows it (no secret in it)."""
    row = row or ConnectionOnboarding(connection="")
    now = utcnow()
    pending = bool(
        row.grant_state_sha256 and row.grant_expires_at is not None and row.grant_expires_at > now
    )
    return {
        "economic_grant": {
            "pending_until": row.grant_expires_at if pending else None,
            "granted_at": row.granted_at,
        },
        "proposal": row.proposal,
        "proposal_error": row.proposal_error,
        "proposal_read_at": row.proposal_read_at,
        "proposal_confirmed_at": row.proposal_confirmed_at,
        "webhook_subscriptions": row.subscriptions,
        "webhook_subscriptions_error": row.subscriptions_error,
        "webhook_subscriptions_checked_at": row.subscriptions_checked_at,
        "public_url": settings.public_url,
    }


async def after_grant(
    db: Database,
    ledgers: LedgerDirectory,
    book: ConnectionBook,
    cache: ConnectionCache,
    name: str,
    granted: Granted,
) -> ConnectionOnboarding:
    """This process uses the new credentials at once, then reads the proposal."""
    cache.forget(name)
    if granted.copy is not None:
        book.apply(granted.copy)
    return await read_proposal(db, ledgers, name)
