"""Resolving the ledger customer for an order: link, then the ledger, then create (once)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from pydantic.alias_generators import to_snake

from lb_common import connection_settings
from lb_common.errors import PermanentError
from lb_common.events import CustomerResolved, MatchEvidence, OrderReady, ResolvedCustomer
from lb_common.failpoints import failpoint
from lb_common.orders import CanonicalOrder
from lb_common.unit_of_work import Sessions, UnitOfWork
from lb_connectors.economic.cache import LedgerCache
from lb_connectors.economic.client import EconomicClient
from lb_connectors.economic.errors import EconomicValidationError, blame_shop_fields
from lb_connectors.economic.models import CustomerCreate, DeliveryLocationCreate
from lb_connectors.ledgers import LedgerDirectory
from lb_customers.claims import CreationClaims
from lb_customers.policy import (
    CustomerSettings,
    MatchKey,
    delivery_location_for,
    fields_to_update,
    fixed_booking,
    ledger_filter,
    match_keys,
    new_customer_fields,
    not_found_booking,
    pick_ledger_match,
    shop_fields,
)
from lb_customers.store import CustomerConnectionSettings, CustomerLink, CustomerMerge

#: Takes the creation claim on a match key, held until the order's outcome is committed.
Claim = Callable[[str], Awaitable[bool]]


@dataclass(frozen=True)
class Resolution:
    customer_number: int
    how: str  # linked | matched | created | default
    explanation: str
    link_key: str | None  # the key to store a new link under; None: nothing new to link
    # The buyer's detail the customer was found or created by (invoicing checks it again).
    matched_on: MatchEvidence | None = None


def _evidence(key: MatchKey) -> MatchEvidence:
    return MatchEvidence(kind=key.kind, value=key.value)


async def handle_order_ready(
    event: OrderReady, uow: UnitOfWork, *, ledgers: LedgerDirectory, claims: CreationClaims
) -> None:
    order = event.order
    connection = uow.message.connection
    settings = await load_settings(uow, connection)
    client = ledgers.for_connection(connection)
    # A creation claim taken by `resolve` is held until the link is committed (then the next
    # worker finds the link) and released however this ends.
    async with contextlib.AsyncExitStack() as held:

        async def claim(key: str) -> bool:
            return await held.enter_async_context(claims.held(connection, key))

        resolution = await resolve(uow, client, connection, order, settings, claim)
        await _record(uow, client, order, resolution)


async def _record(
    uow: UnitOfWork, client: EconomicClient, order: CanonicalOrder, resolution: Resolution
) -> None:
    """The link (if new), `customer.resolved` and the timeline step, with the inbox row."""
    async with uow.commit() as session:
        key = resolution.link_key
        if key is not None:
            await session.merge(
                CustomerLink(
                    connection=uow.message.connection,
                    match_key=key,
                    customer_number=resolution.customer_number,
                    source=resolution.how,
                )
            )
        uow.emit(
            CustomerResolved(
                order=order,
                customer_number=str(resolution.customer_number),
                created=resolution.how == "created",
                matched_on=resolution.matched_on,
                customer=carried_customer(client, resolution.customer_number),
            )
        )
        uow.progress(
            "customer.resolved",
            resolution.explanation,
            {"customer_number": resolution.customer_number, "how": resolution.how},
        )


async def load_settings(db: Sessions, connection: str) -> CustomerSettings:
    return await connection_settings.load_settings(
        db, CustomerConnectionSettings, CustomerSettings, connection
    )


async def resolve(
    db: Sessions,
    client: EconomicClient,
    connection: str,
    order: CanonicalOrder,
    settings: CustomerSettings,
    claim: Claim,
) -> Resolution:
    fixed = fixed_booking(order, settings)
    if fixed is not None:
        return Resolution(fixed.customer_number, "default", fixed.explanation, None)
    keys = match_keys(order, settings)
    link_key = str(keys[0])

    async with db.session() as session:
        for key in keys:
            link = await session.get(CustomerLink, (connection, str(key)))
            if link is not None:
                explanation = f"Known customer {link.customer_number} (linked on {key})."
                if link.merged_from is not None:
                    # A merge repointed the link: say so, or the switch goes unexplained.
                    merge = await session.get(CustomerMerge, (connection, link.merged_from))
                    rule = merge.rule if merge is not None else "duplicate"
                    explanation = (
                        f"Known buyer (linked on {key}). "
                        f"{_merged_note(link.merged_from, link.customer_number, rule)}"
                    )
                # A link a person set, or one a merge repointed, may point anywhere on purpose.
                chosen_by_person = link.source == "manual" or link.merged_from is not None
                found_by_link = Resolution(
                    link.customer_number,
                    "linked",
                    explanation,
                    None,
                    None if chosen_by_person else _evidence(key),
                )
                return await _with_updates(
                    client, order, settings, await _survivor(db, connection, found_by_link)
                )

    found = await _find_in_ledger(client, keys)
    if found is not None:
        number, key = found
        matched = Resolution(
            number,
            "matched",
            f"Found e-conomic customer {number} by {key}.",
            link_key,
            _evidence(key),
        )
        return await _with_updates(
            client, order, settings, await _survivor(db, connection, matched)
        )

    default = not_found_booking(keys, settings)
    if default is not None:
        return Resolution(default.customer_number, "default", default.explanation, None)

    took_over = await claim(link_key)
    failpoint("customers.after_claim")
    # Look again under the claim: a worker that held it before us may have just created it. One
    # that finished stored its link before it let the claim go, so our database says so, at no
    # call; only one that stopped holding the claim (killed, or failed after it may have
    # created the customer) can have left a customer without a link, and then we search.
    found = await _linked_meanwhile(db, connection, keys[0])
    if found is None and took_over:
        found = await _find_in_ledger(client, keys)
    if found is not None:
        number, key = found
        return await _survivor(
            db,
            connection,
            Resolution(
                number,
                "matched",
                f"Found e-conomic customer {number} by {key}.",
                link_key,
                _evidence(key),
            ),
        )
    body = CustomerCreate.model_validate(new_customer_fields(order, settings))
    try:
        created = await client.create_customer(
            body, idempotency_key=f"{connection}:{link_key}:create-customer"
        )
    except EconomicValidationError as exc:
        await _explain_taken_number(client, body)
        raise blame_shop_fields(exc, shop_fields(order, settings)) from exc
    LedgerCache.of(client).remember_customer(created)
    return Resolution(
        created.customer_number,
        "created",
        f"Created e-conomic customer {created.customer_number} '{created.name}' "
        f"(group {created.customer_group.customer_group_number}, "
        f"VAT zone {created.vat_zone.vat_zone_number}).",
        link_key,
        _evidence(keys[0]),
    )


async def _find_in_ledger(
    client: EconomicClient, keys: tuple[MatchKey, ...]
) -> tuple[int, MatchKey] | None:
    """The first key that finds a ledger customer, and the customer's number."""
    cache = LedgerCache.of(client)
    for key in keys:
        query = ledger_filter(key)
        if query is None:
            continue  # a key that only links (e.g. the shop's customer id)
        candidates = await client.find_customers(query)
        number = pick_ledger_match(key, candidates)
        if number is not None:
            for customer in candidates:
                if customer.customer_number == number:
                    cache.remember_customer(customer)  # it travels in customer.resolved
            return number, key
    return None


async def _linked_meanwhile(
    db: Sessions, connection: str, key: MatchKey
) -> tuple[int, MatchKey] | None:
    async with db.session() as session:
        link = await session.get(CustomerLink, (connection, str(key)))
    return None if link is None else (link.customer_number, key)


def carried_customer(client: EconomicClient, number: int) -> ResolvedCustomer | None:
    """The customer as this service read or wrote it within the cache's life, for invoicing:
    found or created just now, or a known buyer seen recently. None: invoicing reads it."""
    entry = LedgerCache.of(client).customers.entry(number)
    if entry is None:
        return None
    customer, read_at = entry
    return ResolvedCustomer(
        name=customer.name,
        currency=customer.currency,
        group=str(customer.customer_group.customer_group_number),
        payment_terms=str(customer.payment_terms.payment_terms_number),
        tax_zone=str(customer.vat_zone.vat_zone_number),
        layout=str(customer.layout.layout_number) if customer.layout else None,
        email=customer.email,
        vat_id=customer.corporate_identification_number,
        ean=customer.ean,
        address=customer.address,
        zip=customer.zip,
        city=customer.city,
        country=customer.country,
        read_at=read_at,
    )


async def _survivor(db: Sessions, connection: str, found: Resolution) -> Resolution:
    """The surviving customer when the one found was merged away as a duplicate."""
    async with db.session() as session:
        merge = await session.get(CustomerMerge, (connection, found.customer_number))
    if merge is None:
        return found
    return replace(
        found,
        customer_number=merge.survivor_number,
        matched_on=None,  # the survivor was chosen by a person, not by the buyer's details
        explanation=f"{found.explanation} "
        f"{_merged_note(found.customer_number, merge.survivor_number, merge.rule)}",
    )


def _merged_note(merged: int, survivor: int, rule: str) -> str:
    return (
        f"Customer {merged} was merged into {survivor} as a duplicate ({rule}): "
        f"redirected to {survivor}."
    )


async def _with_updates(
    client: EconomicClient, order: CanonicalOrder, settings: CustomerSettings, found: Resolution
) -> Resolution:
    """Write the fields the settings allow to update, when the order changes them."""
    if not settings.update_fields and settings.update_addresses == "off":
        return found
    customer = await client.get_customer(found.customer_number)  # fresh: it is compared
    if customer is not None:
        LedgerCache.of(client).remember_customer(customer)
    if customer is None:
        raise PermanentError(
            f"e-conomic customer {found.customer_number} no longer exists. Re-link the buyer "
            "(PUT /links/...) or remove the link, then replay the order."
        )
    done: list[str] = []
    changes = fields_to_update(customer.model_dump(), order, settings)
    if changes:
        try:
            # Merged into the record as read: a bookkeeper's fields we do not own stay.
            replaced = await client.update_customer(customer, changes)
        except EconomicValidationError as exc:
            written = {
                path: source
                for path, source in shop_fields(order, settings).items()
                if to_snake(path) in changes  # the rest is the ledger's own, not the shop's
            }
            raise blame_shop_fields(exc, written) from exc
        LedgerCache.of(client).remember_customer(replaced)
        done.append(f"Updated {', '.join(sorted(changes))}.")
    if settings.update_addresses in ("shipping", "both"):
        existing = await client.list_delivery_locations(customer.customer_number)
        location = delivery_location_for([e.model_dump() for e in existing], order, settings)
        if location is not None:
            added = await client.create_delivery_location(
                customer.customer_number, DeliveryLocationCreate.model_validate(location)
            )
            done.append(
                f"Added delivery location {added.delivery_location_number} ({added.address})."
            )
    if not done:
        return found
    return replace(found, explanation=f"{found.explanation} {' '.join(done)}")


async def _explain_taken_number(client: EconomicClient, body: CustomerCreate) -> None:
    if body.customer_number is None:
        return
    holder = await client.get_customer(body.customer_number)
    if holder is not None:
        raise PermanentError(
            f"Customer number {body.customer_number} (taken from the shop) is already used by "
            f"e-conomic customer '{holder.name}'. Link the buyer to it (PUT /links/...) or let "
            "e-conomic number new customers, then replay the order."
        )
