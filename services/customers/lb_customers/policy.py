"""How an order's buyer becomes a ledger customer: settings, match keys, VAT zones, the body.

Plain functions over plain data: no I/O here, so every rule is tested directly. The parts live
in small modules (config, validators, normalise, vat_zones, naming, matching, fields); this
module re-exports them and holds the routing decisions around the lookup.

The use case, in order:
1. `fixed_booking(order, settings)`: all sales on one customer, or no customer details at all
   → a DefaultBooking (or CustomerDecisionError when there is no default customer).
2. `match_keys(order, settings)`: the keys to try; `str(keys[0])` is the link key.
3. The keys the ledger may hold (`key.port`) go to the ledger port's `find_customer`; its
   adapter searches and decides which of its customers match.
4. Nothing found: `not_found_booking(keys, settings)`; None means create with
   `new_customer_fields(order, settings)` (as the port's CustomerDetails: ledger_terms.py).
5. Found: `fields_to_update(fields, order, settings)`, and
   `delivery_location_for(existing_locations, order, settings)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lb_common.normalise import normalise_email, normalise_phone
from lb_common.orders import CanonicalOrder

from .config import (
    ALL_CUSTOMER_FIELDS,
    CustomerDefaults,
    CustomerField,
    CustomerSettings,
    CustomFieldMatch,
    MatchField,
    Profile,
    TypeProfile,
)
from .fields import (
    address_fields,
    delivery_location_for,
    fields_to_update,
    new_customer_fields,
    new_customer_number,
    shop_fields,
    vat_zone_number,
)
from .matching import MatchKey, match_key, match_keys
from .naming import customer_name, format_name
from .validators import (
    CustomerDecisionError,
    customer_number_problem,
    cvr_problem,
    ean_problem,
    validate_customer_number,
    validate_cvr,
    validate_ean,
)
from .vat_zones import EU_COUNTRIES, VatZoneRules, vat_zone_for

__all__ = [
    "ALL_CUSTOMER_FIELDS",
    "EU_COUNTRIES",
    "CustomFieldMatch",
    "CustomerDecisionError",
    "CustomerDefaults",
    "CustomerField",
    "CustomerSettings",
    "DefaultBooking",
    "MatchField",
    "MatchKey",
    "Profile",
    "TypeProfile",
    "VatZoneRules",
    "address_fields",
    "customer_name",
    "customer_number_problem",
    "cvr_problem",
    "delivery_location_for",
    "ean_problem",
    "fields_to_update",
    "fixed_booking",
    "format_name",
    "match_key",
    "match_keys",
    "new_customer_fields",
    "new_customer_number",
    "normalise_email",
    "normalise_phone",
    "not_found_booking",
    "shop_fields",
    "validate_customer_number",
    "validate_cvr",
    "validate_ean",
    "vat_zone_for",
    "vat_zone_number",
]


@dataclass(frozen=True)
class DefaultBooking:
    """Book the order on the default customer, and why (for the order's timeline)."""

    customer_number: int | str  # the settings' number, or a ledger's customer id
    explanation: str


def _no_default(why: str) -> CustomerDecisionError:
    return CustomerDecisionError(
        f"{why}, and there is no default customer. Set default_customer_number in the "
        "customers settings (or fix the order in the shop), then replay the order."
    )


def _keys_wanted(order: CanonicalOrder, settings: CustomerSettings) -> str:
    prof = settings.profile_for(order.buyer.customer_type if order.buyer else "b2c")
    kinds = [k for k in (prof.match_on, prof.match_on_second) if k]
    names = [MatchKey(kind, "", "").describe for kind in kinds]
    return " or ".join(names)


def fixed_booking(
    order: CanonicalOrder, settings: CustomerSettings, *, default: str | None = None
) -> DefaultBooking | None:
    """The default customer when no lookup is wanted or possible; None: look the buyer up.

    - `single_customer`: every order goes on the default customer.
    - No customer details at all, or none the match keys use: the default customer when set,
      else CustomerDecisionError with the reason.
    Also raises CustomerDecisionError when a CVR/EAN match key fails its check. `default`: the
    default customer's id when the caller knows a better one than `default_customer_number`.
    """
    chosen: int | str | None = default or settings.default_customer_number
    if settings.single_customer:
        assert chosen is not None  # settings validation guarantees it
        return DefaultBooking(
            chosen, f"All sales are collected on customer {chosen} (single_customer)."
        )
    if order.buyer is None:
        why = "The order has no customer details"
    elif not match_keys(order, settings):
        why = f"The order has no {_keys_wanted(order, settings)} to find the customer by"
    else:
        return None
    if chosen is None:
        raise _no_default(why)
    return DefaultBooking(chosen, f"{why}: booked on the default customer {chosen}.")


def not_found_booking(
    keys: Sequence[MatchKey],
    settings: CustomerSettings,
    *,
    default: str | None = None,
    ledger: str = "e-conomic",
) -> DefaultBooking | None:
    """When no ledger customer matched any key: None means create one (create_if_missing).

    Otherwise the default customer, or CustomerDecisionError when there is none.
    """
    if settings.create_if_missing:
        return None
    tried = ", ".join(str(k) for k in keys) or "the order's details"
    why = f"No {ledger} customer has {tried} and creating customers is switched off"
    chosen: int | str | None = default or settings.default_customer_number
    if chosen is None:
        raise _no_default(why)
    return DefaultBooking(chosen, f"{why}: booked on the default customer {chosen}.")
