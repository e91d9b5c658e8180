"""Resolving the ledger customer for an order: link, then the ledger, then create (once).

The ledger is reached through the ledger port only (`LedgerDirectory.ledger(connection)`):
match keys become the port's `MatchKey`s, a new customer its `CustomerDetails`, an update its
`CustomerChanges` (ledger_terms.py translates). What each ledger does with them is its adapter's
business (docs/ledger-port.md).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic.alias_generators import to_snake
from sqlalchemy import Connection, bindparam, select

from lb_common import connection_settings
from lb_common.errors import PermanentError
from lb_common.events import CustomerResolved, MatchEvidence, OrderReady, ResolvedCustomer
from lb_common.failpoints import failpoint
from lb_common.orders import CanonicalOrder
from lb_common.unit_of_work import Sessions, UnitOfWork
from lb_connectors.ledger import Ledger
from lb_connectors.ledger.errors import LedgerRefused
from lb_connectors.ledger.models import CustomerDetails, CustomerOutcome, LedgerCustomer
from lb_connectors.ledger.models import MatchKey as LedgerKey
from lb_connectors.ledgers import LedgerDirectory
from lb_customers.claims import CreationClaims
from lb_customers.ledger_terms import (
    as_shown,
    customer_changes,
    customer_details,
    held_fields,
    port_shop_fields,
    postal_address,
)
from lb_customers.policy import (
    CustomerSettings,
    MatchKey,
    delivery_location_for,
    fields_to_update,
    fixed_booking,
    match_keys,
    new_customer_fields,
    not_found_booking,
    shop_fields,
)
from lb_customers.store import (
    CustomerConnectionSettings,
    CustomerLink,
    CustomerMerge,
    save_link,
)

#: Takes the creation claim on a match key, held until the order's outcome is committed.
Claim = Callable[[str], Awaitable[bool]]

_ADDRESS_UPDATES = {"none": "off"}  # QuickBooks' rule's words → the service's


@dataclass(frozen=True)
class Resolution:
    customer_number: str  # the ledger's customer id
    how: str  # linked | matched | created | default
    explanation: str
    link_key: str | None  # the key to store a new link under; None: nothing new to link
    # The buyer's detail the customer was found or created by (invoicing checks it again).
    matched_on: MatchEvidence | None = None
    customer: LedgerCustomer | None = None  # as read or written just now, if it was


@dataclass(frozen=True)
class LedgerAt:
    """The connection's ledger, and its name in messages for people."""

    ledger: Ledger
    label: str


def _evidence(key: MatchKey) -> MatchEvidence:
    return MatchEvidence(kind=key.kind, value=key.value)


async def handle_order_ready(
    event: OrderReady, uow: UnitOfWork, *, ledgers: LedgerDirectory, claims: CreationClaims
) -> None:
    order = event.order
    connection = uow.message.connection
    # The settings and, read with them, the buyer's links (every order reads both).
    settings, known = await uow.read_sync(functools.partial(_settings_and_links, connection, order))
    kind, _ = ledgers.kind_for(connection)
    at = LedgerAt(ledgers.ledger(connection), kind.label)
    # A creation claim taken by `resolve` is held until the link is committed (then the next
    # worker finds the link) and released however this ends.
    async with contextlib.AsyncExitStack() as held:

        async def claim(key: str) -> bool:
            return await held.enter_async_context(claims.held(connection, key))

        resolution = await resolve(uow, at, connection, order, settings, claim, known=known)
        await _record(uow, at.ledger, order, resolution)


async def _record(
    uow: UnitOfWork, ledger: Ledger, order: CanonicalOrder, resolution: Resolution
) -> None:
    """The link (if new), `customer.resolved` and the timeline step, with the inbox row (one
    commit in plain Core: no session)."""
    resolved = CustomerResolved(
        order=order,
        customer_number=resolution.customer_number,
        created=resolution.how == "created",
        matched_on=resolution.matched_on,
        customer=carried_customer(ledger, resolution),
    )
    key = resolution.link_key
    link = (
        None
        if key is None
        else CustomerLink(
            connection=uow.message.connection,
            match_key=key,
            customer_number=resolution.customer_number,
            source=resolution.how,
        )
    )

    def effect(connection: Connection) -> None:
        if link is not None:
            save_link(connection, link)
        uow.emit(resolved)
        uow.progress(
            "customer.resolved",
            resolution.explanation,
            {"customer_number": as_shown(resolution.customer_number), "how": resolution.how},
        )

    await uow.commit_sync(effect)


async def load_settings(db: Sessions, connection: str) -> CustomerSettings:
    return await connection_settings.load_settings(
        db, CustomerConnectionSettings, CustomerSettings, connection
    )


def _settings_and_links(
    connection: str, order: CanonicalOrder, db: Connection
) -> tuple[CustomerSettings, _Known | None]:
    """The connection's settings (as `load_settings` reads them) and the buyer's links under
    the keys they give (as `resolve` reads them), in one read transaction. None for the links
    where `resolve` decides without them or refuses the order: it does so as before."""
    settings = CustomerSettings.model_validate(
        connection_settings.stored_settings(CustomerConnectionSettings, connection, db)
    )
    if settings.single_customer:
        return settings, None
    try:
        keys = match_keys(order, settings)
    except Exception:  # a key that fails its check: refused in `resolve`, where it always was
        return settings, None
    if not keys:
        return settings, None
    return settings, _known(connection, [str(k) for k in keys], db)


def for_ledger(settings: CustomerSettings, kind: str) -> CustomerSettings:
    """The settings as they apply to this ledger kind: a QuickBooks connection updates
    addresses by its `quickbooks.update_addresses` rule (docs/customers-settings.md)."""
    if kind != "quickbooks":
        return settings
    rule = settings.quickbooks.update_addresses
    return settings.model_copy(update={"update_addresses": _ADDRESS_UPDATES.get(rule, rule)})


def default_customer(settings: CustomerSettings, kind: str) -> str | None:
    """The customer for orders without details: `default_customer_number`, or for a QuickBooks
    connection `quickbooks.default_customer_id` when that is unset."""
    if settings.default_customer_number is not None:
        return str(settings.default_customer_number)
    return settings.quickbooks.default_customer_id if kind == "quickbooks" else None


def _port_keys(keys: Sequence[MatchKey]) -> list[LedgerKey]:
    return [port for key in keys if (port := key.port) is not None]


def _ours(keys: Sequence[MatchKey], found: LedgerKey | None) -> MatchKey:
    """The service's key the ledger found the customer by."""
    return next((k for k in keys if k.port == found), keys[0])


async def resolve(
    db: Sessions,
    at: LedgerAt,
    connection: str,
    order: CanonicalOrder,
    settings: CustomerSettings,
    claim: Claim,
    *,
    known: _Known | None = None,
) -> Resolution:
    """`known`: the links `_known` read already, if the caller read them (used when read under
    the same keys)."""
    ledger, label = at.ledger, at.label
    settings = for_ledger(settings, ledger.kind)
    default = default_customer(settings, ledger.kind)
    fixed = fixed_booking(order, settings, default=default)
    if fixed is not None:
        return Resolution(str(fixed.customer_number), "default", fixed.explanation, None)
    keys = match_keys(order, settings)
    link_key = str(keys[0])

    # The links of every key and the merges they may lead to, in one read.
    names = [str(k) for k in keys]
    if known is None or known.keys != names:
        known = await db.read_sync(functools.partial(_known, connection, names))
    for key in keys:
        link = known.links.get(str(key))
        if link is not None:
            explanation = f"Known customer {link.customer_number} (linked on {key})."
            if link.merged_from is not None:
                # A merge repointed the link: say so, or the switch goes unexplained.
                merge = known.merges.get(link.merged_from)
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
                at,
                connection,
                order,
                settings,
                _redirected(found_by_link, known.merges.get(link.customer_number)),
            )

    searched = _port_keys(keys)
    found = await _find_in_ledger(at, keys)
    if found is not None:
        return await _with_updates(
            at, connection, order, settings, await _survivor(db, connection, found)
        )

    booking = not_found_booking(keys, settings, default=default, ledger=label)
    if booking is not None:
        return Resolution(str(booking.customer_number), "default", booking.explanation, None)

    took_over = await claim(link_key)
    failpoint("customers.after_claim")
    # Look again under the claim: a worker that held it before us may have just created it. One
    # that finished stored its link before it let the claim go, so our database says so, at no
    # call; only one that stopped holding the claim (killed, or failed after it may have
    # created the customer) can have left a customer without a link, and then we search.
    linked = await _linked_meanwhile(db, connection, keys[0], label)
    if linked is None and took_over:
        linked = await _find_in_ledger(at, keys)
    if linked is not None:
        return await _survivor(db, connection, linked)
    details = customer_details(new_customer_fields(order, settings), order, settings)
    try:
        outcome = await ledger.find_or_create_customer(
            searched,
            details,
            idempotency_key=f"{connection}:{link_key}:create-customer",
            search_first=False,  # searched just now (and again under the claim when needed)
        )
    except LedgerRefused as exc:
        await _explain_taken_number(ledger, details, label)
        raise exc.blaming(port_shop_fields(shop_fields(order, settings))) from exc
    failpoint("customers.after_created")  # made in the ledger, not yet linked here
    return _outcome(outcome, keys, link_key, label)


def _outcome(
    outcome: CustomerOutcome, keys: Sequence[MatchKey], link_key: str, label: str
) -> Resolution:
    customer = outcome.customer
    if outcome.created:
        placed = ", ".join(
            f"{what} {value}"
            for what, value in (("group", customer.group), ("VAT zone", customer.tax_zone))
            if value is not None
        )
        return Resolution(
            customer.id,
            "created",
            f"Created {label} customer {customer.number} '{customer.name}'"
            + (f" ({placed})." if placed else "."),
            link_key,
            _evidence(keys[0]),
            customer,
        )
    if outcome.matched_on is not None:
        key = _ours(keys, outcome.matched_on)
        return Resolution(
            customer.id,
            "matched",
            f"Found {label} customer {customer.number} by {key}.",
            link_key,
            _evidence(key),
            customer,
        )
    # The ledger's own rule chose it (QuickBooks' standard customer): not the buyer's, no link.
    tried = ", ".join(str(k) for k in keys)
    return Resolution(
        customer.id,
        "default",
        f"No {label} customer has {tried}: booked on the standard customer {customer.number} "
        f"'{customer.name}' (quickbooks.when_not_found).",
        None,
        None,
        customer,
    )


async def _find_in_ledger(at: LedgerAt, keys: Sequence[MatchKey]) -> Resolution | None:
    """The customer found by the first key that finds one (no call for link-only keys)."""
    searched = _port_keys(keys)
    if not searched:
        return None
    found = await at.ledger.find_customer(searched)
    if found is None:
        return None
    key = _ours(keys, found.matched_on)
    return Resolution(
        found.customer.id,
        "matched",
        f"Found {at.label} customer {found.customer.number} by {key}.",
        str(keys[0]),
        _evidence(key),
        found.customer,
    )


async def _linked_meanwhile(
    db: Sessions, connection: str, key: MatchKey, label: str
) -> Resolution | None:
    known = await db.read_sync(functools.partial(_known, connection, [str(key)]))
    link = known.links.get(str(key))
    if link is None:
        return None
    return Resolution(
        link.customer_number,
        "matched",
        f"Found {label} customer {link.customer_number} by {key}.",
        str(key),
        _evidence(key),
    )


def carried_customer(ledger: Ledger, resolution: Resolution) -> ResolvedCustomer | None:
    """The customer as this service read or wrote it just now or within the adapter's cache
    life, for invoicing; None: invoicing reads it."""
    customer = ledger.known_customer(resolution.customer_number) or resolution.customer
    if customer is None or customer.id != resolution.customer_number:
        return None
    billing = customer.billing
    return ResolvedCustomer(
        name=customer.name,
        currency=customer.currency,
        group=customer.group,
        payment_terms=customer.payment_terms,
        tax_zone=customer.tax_zone,
        layout=customer.layout,
        email=customer.email,
        vat_id=customer.vat_id,
        ean=customer.ean,
        address="\n".join(billing.lines) or None if billing else None,
        zip=billing.zip if billing else None,
        city=billing.city if billing else None,
        country=billing.country if billing else None,
        read_at=customer.read_at,
    )


@dataclass(frozen=True)
class _Known:
    keys: list[str]  # the match keys looked up
    links: dict[str, Any]  # match key -> customer_links row
    merges: dict[str, Any]  # merged customer number -> customer_merges row


# Built once (building a statement and its cache key cost more than running it); the lists are
# expanding parameters.
_LINKS = CustomerLink.__table__  # type: ignore[attr-defined]
_MERGES = CustomerMerge.__table__  # type: ignore[attr-defined]
_LINKS_OF = select(_LINKS).where(
    _LINKS.c.connection == bindparam("b_connection"),
    _LINKS.c.match_key.in_(bindparam("b_keys", expanding=True)),
)
_MERGES_OF = select(_MERGES).where(
    _MERGES.c.connection == bindparam("b_connection"),
    _MERGES.c.merged_number.in_(bindparam("b_numbers", expanding=True)),
)


def _known(connection: str, keys: list[str], db: Connection) -> _Known:
    """The buyer's links under `keys` and the merges of the customers they name, in plain Core
    (`read_sync`: one plain read transaction for what a returning buyer's order reads)."""
    links = {
        row.match_key: row
        for row in db.execute(_LINKS_OF, {"b_connection": connection, "b_keys": keys})
    }
    numbers = {n for row in links.values() for n in (row.customer_number, row.merged_from) if n}
    return _Known(keys, links, _merges(connection, numbers, db) if numbers else {})


def _merges(connection: str, numbers: set[str], db: Connection) -> dict[str, Any]:
    return {
        row.merged_number: row
        for row in db.execute(
            _MERGES_OF, {"b_connection": connection, "b_numbers": sorted(numbers)}
        )
    }


async def _survivor(db: Sessions, connection: str, found: Resolution) -> Resolution:
    """The surviving customer when the one found was merged away as a duplicate."""
    merges = await db.read_sync(functools.partial(_merges, connection, {found.customer_number}))
    return _redirected(found, merges.get(found.customer_number))


def _redirected(found: Resolution, merge: Any) -> Resolution:
    """`found`, or its survivor when `merge` (the customer's merge row, if any) moved it."""
    if merge is None:
        return found
    return replace(
        found,
        customer_number=merge.survivor_number,
        matched_on=None,  # the survivor was chosen by a person, not by the buyer's details
        customer=None,  # the one read was the merged customer
        explanation=f"{found.explanation} "
        f"{_merged_note(found.customer_number, merge.survivor_number, merge.rule)}",
    )


def _merged_note(merged: str, survivor: str, rule: str) -> str:
    return (
        f"Customer {merged} was merged into {survivor} as a duplicate ({rule}): "
        f"redirected to {survivor}."
    )


async def _with_updates(
    at: LedgerAt,
    connection: str,
    order: CanonicalOrder,
    settings: CustomerSettings,
    found: Resolution,
) -> Resolution:
    """Write the fields the settings allow to update, when the order changes them."""
    if not settings.update_fields and settings.update_addresses == "off":
        return found
    ledger, number = at.ledger, found.customer_number
    customer = ledger.known_customer(number) or await ledger.get_customer(number)
    if customer is None:
        raise PermanentError(
            f"{at.label} customer {number} no longer exists. Re-link the buyer "
            "(PUT /links/...) or remove the link, then replay the order."
        )
    changes = fields_to_update(held_fields(customer), order, settings)
    location = delivery_location_for([], order, settings)
    if not changes and location is None:
        return found
    wanted = customer_changes(changes)
    if location is not None:
        wanted = wanted.model_copy(update={"shipping": postal_address(order.shipping_address)})
    try:
        # Merged into the record as read: a bookkeeper's fields we do not own stay.
        update = await ledger.update_customer(
            number, wanted, idempotency_key=f"{connection}:{number}:{order.order_key}"
        )
    except LedgerRefused as exc:
        written = {
            path: source
            for path, source in shop_fields(order, settings).items()
            if to_snake(path) in changes  # the rest is the ledger's own, not the shop's
        }
        raise exc.blaming(port_shop_fields(written)) from exc
    done = [f"Updated {', '.join(sorted(changes))}."] if changes else []
    done += update.done
    if not done:
        return found
    return replace(
        found, explanation=f"{found.explanation} {' '.join(done)}", customer=update.customer
    )


async def _explain_taken_number(ledger: Ledger, details: CustomerDetails, label: str) -> None:
    if details.number is None:
        return
    holder = await ledger.get_customer(details.number)
    if holder is not None:
        raise PermanentError(
            f"Customer number {details.number} (taken from the shop) is already used by "
            f"{label} customer '{holder.name}'. Link the buyer to it (PUT /links/...) or let "
            f"{label} number new customers, then replay the order."
        )
