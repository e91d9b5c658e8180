"""Resolving the ledger customer for an order: link, then the ledger, then create (once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import delete

from lb_common import inbox
from lb_common.db import Database, utcnow
from lb_common.envelope import Envelope
from lb_common.errors import PermanentError, TransientError
from lb_common.events import CustomerResolved, OrderProgress, OrderReady
from lb_common.orders import CanonicalOrder
from lb_common.outbox import add_to_outbox
from lb_connectors.economic.client import EconomicClient
from lb_connectors.economic.filters import Field
from lb_connectors.economic.models import CustomerCreate
from lb_connectors.ledgers import LedgerDirectory
from lb_customers.policy import CustomerSettings, match_key, new_customer_fields
from lb_customers.store import CreationClaim, CustomerConnectionSettings, CustomerLink

SERVICE = "customers"
# A claim older than this belongs to a worker that died; the next one takes over.
CLAIM_TIMEOUT = timedelta(minutes=2)

_LEDGER_FIELD = {"email": "email", "phone": "telephoneAndFaxNumber"}


@dataclass(frozen=True)
class Resolution:
    customer_number: int
    how: str  # linked | matched | created | default
    explanation: str
    new_link: bool


async def handle_order_ready(envelope: Envelope, *, db: Database, ledgers: LedgerDirectory) -> None:
    order = envelope.parse(OrderReady).order
    settings = await load_settings(db, envelope.connection)
    client = ledgers.for_connection(envelope.connection)
    key = match_key(order, settings)
    resolution = await resolve(db, client, envelope.connection, order, settings, key)

    async with db.transaction() as session:
        if resolution.new_link and key is not None:
            await session.merge(
                CustomerLink(
                    connection=envelope.connection,
                    match_key=key,
                    customer_number=resolution.customer_number,
                    source=resolution.how,
                )
            )
        if key is not None:
            await session.exec(
                delete(CreationClaim).where(
                    CreationClaim.connection == envelope.connection,  # type: ignore[arg-type]
                    CreationClaim.match_key == key,  # type: ignore[arg-type]
                )
            )
        add_to_outbox(
            session,
            Envelope.wrap(
                CustomerResolved(
                    order=order,
                    customer_number=resolution.customer_number,
                    created=resolution.how == "created",
                ),
                connection=envelope.connection,
                order_key=envelope.order_key,
                caused_by=envelope,
            ),
        )
        add_to_outbox(
            session,
            Envelope.wrap(
                OrderProgress(
                    service=SERVICE,
                    step="customer.resolved",
                    message=resolution.explanation,
                    details={"customer_number": resolution.customer_number, "how": resolution.how},
                ),
                connection=envelope.connection,
                order_key=envelope.order_key,
                caused_by=envelope,
            ),
        )
        inbox.mark_handled(session, SERVICE, envelope.message_id)


async def load_settings(db: Database, connection: str) -> CustomerSettings:
    async with db.session() as session:
        row = await session.get(CustomerConnectionSettings, connection)
    return CustomerSettings.model_validate(row.settings if row else {})


async def resolve(
    db: Database,
    client: EconomicClient,
    connection: str,
    order: CanonicalOrder,
    settings: CustomerSettings,
    key: str | None,
) -> Resolution:
    if key is None:
        return _default_customer(
            settings,
            connection,
            f"The order has no {settings.match_on.replace('_', ' ')} to find the customer by",
        )

    async with db.session() as session:
        link = await session.get(CustomerLink, (connection, key))
    if link is not None:
        return Resolution(
            link.customer_number,
            "linked",
            f"Known customer {link.customer_number} (linked on {key}).",
            new_link=False,
        )

    found = await _find_in_ledger(client, settings, key)
    if found is not None:
        return Resolution(
            found, "matched", f"Found e-conomic customer {found} by {key}.", new_link=True
        )

    if not settings.create_if_missing:
        return _default_customer(settings, connection, f"No e-conomic customer has {key}")

    await _claim(db, connection, key)
    # Look again under the claim: a worker that held it before us may have just created it.
    found = await _find_in_ledger(client, settings, key)
    if found is not None:
        return Resolution(
            found, "matched", f"Found e-conomic customer {found} by {key}.", new_link=True
        )
    fields = new_customer_fields(order, settings)
    created = await client.create_customer(
        CustomerCreate.model_validate(fields),
        idempotency_key=f"{connection}:{key}:create-customer",
    )
    return Resolution(
        created.customer_number,
        "created",
        f"Created e-conomic customer {created.customer_number} '{created.name}' "
        f"(group {settings.defaults.customer_group}, VAT zone {created.vat_zone.vat_zone_number}).",
        new_link=True,
    )


async def _find_in_ledger(
    client: EconomicClient, settings: CustomerSettings, key: str
) -> int | None:
    kind, _, value = key.partition(":")
    if kind == "shop-customer":
        return None  # a shop id says nothing about the ledger until a link exists
    ledger_field = _LEDGER_FIELD.get(settings.match_on)
    if ledger_field is None:
        return None
    matches = await client.find_customers(Field(ledger_field).eq(value))
    if not matches:
        return None
    # Several ledger customers share the key (an old duplicate): the oldest number wins,
    # consistently, and the duplicate report shows the rest.
    return min(c.customer_number for c in matches)


async def _claim(db: Database, connection: str, key: str) -> None:
    try:
        async with db.transaction() as session:
            claim = await session.get(CreationClaim, (connection, key))
            if claim is not None and utcnow() - claim.claimed_at < CLAIM_TIMEOUT:
                raise TransientError(
                    f"Another worker is creating the customer for {key}; looking again shortly.",
                    retry_after=1,
                )
            if claim is not None:
                claim.claimed_at = utcnow()  # its worker died: take over
                session.add(claim)
            else:
                session.add(CreationClaim(connection=connection, match_key=key))
    except IntegrityError as exc:
        raise TransientError(
            f"Another worker is creating the customer for {key}; looking again shortly.",
            retry_after=1,
        ) from exc


def _default_customer(settings: CustomerSettings, connection: str, why: str) -> Resolution:
    if settings.default_customer_number is None:
        raise PermanentError(
            f"{why}, and connection '{connection}' has no default customer. "
            "Set a default customer in the customers settings (or fix the order in the shop), "
            "then replay the order."
        )
    return Resolution(
        settings.default_customer_number,
        "default",
        f"{why}: booked on the default customer {settings.default_customer_number}.",
        new_link=False,
    )
