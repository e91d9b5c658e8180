"""A connection's onboarding besides the ledger's consent (lb_ingest/ledger_consent.py):

- the settings proposed from the ledger's own reference data, read through the ledger port
  (`read_proposal`, connection_proposal.py), shown on the connection until the operator
  confirms them;
- the reference data itself, for the console's pick lists (`read_reference`);
- the outcome of the last webhook subscription check (`keep_subscription_check`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lb_common.db import Database, utcnow
from lb_common.errors import LedgerbridgeError
from lb_common.metric_labels import for_connection
from lb_connectors.ledger import Choice, ReferenceData
from lb_connectors.ledger.consent import ConsentRefused
from lb_connectors.ledgers import LedgerDirectory
from lb_ingest.connection_proposal import as_settings, described, propose
from lb_ingest.settings import IngestSettings
from lb_ingest.store import ConnectionOnboarding, ShopConnection

log = logging.getLogger(__name__)

#: How long reading the ledger's reference data may take before the redirect answers anyway.
PROPOSAL_TIMEOUT = 30.0


class OnboardingRefused(ConsentRefused):
    """The step cannot be done; `status` is the HTTP status the routes answer with."""


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


#: Items offered as choices: one page of the ledger's (the settings page lists them).
MAX_PRODUCTS = 1000


async def read_reference(
    ledgers: LedgerDirectory, name: str, *, products: bool = False
) -> ReferenceData:
    """Read the connection's ledger's reference data through the port (raises
    LedgerbridgeError or TimeoutError when it cannot be read)."""
    with for_connection(name):  # the calls count under this connection's label
        return await asyncio.wait_for(
            ledgers.ledger(name).reference_data(items=MAX_PRODUCTS if products else 0),
            PROPOSAL_TIMEOUT,
        )


def _number(choice: Choice) -> int | str:
    return int(choice.id) if choice.id.isdigit() else choice.id


def reference_view(data: ReferenceData) -> dict[str, Any]:
    """As `GET /connections/{name}/economic/reference` answers it (the console's pick lists):
    number and name of each choice, numbers as e-conomic's."""
    terms = []
    for t in data.payment_terms:
        days = t.facts.get("days_of_credit")
        terms.append(
            {
                "number": _number(t),
                "name": t.name,
                "type": t.facts.get("type"),
                "days_of_credit": int(days) if days is not None and days.isdigit() else None,
            }
        )
    return {
        "customer_groups": [{"number": _number(g), "name": g.name} for g in data.customer_groups],
        "payment_terms": terms,
        "vat_zones": [{"number": _number(z), "name": z.name} for z in data.tax_zones],
        "layouts": [{"number": _number(x), "name": x.name} for x in data.layouts],
        "products": [{"number": p.id, "name": p.name} for p in data.items],
        "more_products": data.more_items,
    }


async def read_proposal(db: Database, ledgers: LedgerDirectory, name: str) -> ConnectionOnboarding:
    """Read the agreement's reference data and store the settings proposed from it (or why
    they could not be read)."""
    proposal: dict[str, Any] | None = None
    error: str | None = None
    try:
        data = await read_reference(ledgers, name)
        choices = propose(data)
        proposal = {
            "settings": as_settings(choices),
            "choices": described(choices),
            "reference": {
                "customer_groups": len(data.customer_groups),
                "payment_terms": len(data.payment_terms),
                "vat_zones": len(data.tax_zones),
                "layouts": len(data.layouts),
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
    return {
        "proposal": row.proposal,
        "proposal_error": row.proposal_error,
        "proposal_read_at": row.proposal_read_at,
        "proposal_confirmed_at": row.proposal_confirmed_at,
        "webhook_subscriptions": row.subscriptions,
        "webhook_subscriptions_error": row.subscriptions_error,
        "webhook_subscriptions_checked_at": row.subscriptions_checked_at,
        "public_url": settings.public_url,
    }
