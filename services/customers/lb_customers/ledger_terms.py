"""The customer in the ledger port's terms: `CustomerDetails` for a new customer, and
`CustomerChanges` for a known one; and a port customer read back in fields.py's names.

fields.py decides which fields (its names are e-conomic's customer fields in snake_case, the
first ledger's); this module only translates, so the rules stay one set for every ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic.alias_generators import to_snake

from lb_common.orders import Address, CanonicalOrder
from lb_connectors.ledger.errors import ShopField
from lb_connectors.ledger.models import (
    CustomerChanges,
    CustomerDetails,
    LedgerCustomer,
    PostalAddress,
)

from .config import CustomerSettings
from .fields import address_fields

# fields.py's names → the port's (`CustomerDetails`, `CustomerChanges`).
_TEXT = {
    "name": "name",
    "email": "email",
    "telephone_and_fax_number": "phone",
    "corporate_identification_number": "vat_id",
    "ean": "ean",
}
_REFS = {
    "customer_group": ("group", "customer_group_number"),
    "payment_terms": ("payment_terms", "payment_terms_number"),
    "vat_zone": ("tax_zone", "vat_zone_number"),
}
_ADDRESS = ("address", "zip", "city", "country")

#: shop_fields' names (e-conomic's) → the port's `CustomerDetails` names (`blaming`).
SHOP_FIELD_NAMES = {
    "telephoneAndFaxNumber": "phone",
    "corporateIdentificationNumber": "vat_id",
    "address": "billing.lines",
    "zip": "billing.zip",
    "city": "billing.city",
    "country": "billing.country",
}


def _postal(fields: Mapping[str, Any], name: str | None = None) -> PostalAddress | None:
    if not any(fields.get(k) for k in _ADDRESS):
        return None
    street = fields.get("address")
    return PostalAddress(
        name=name,
        lines=tuple(str(street).split("\n")) if street else (),
        zip=fields.get("zip"),
        city=fields.get("city"),
        country=fields.get("country"),
    )


def postal_address(address: Address | None) -> PostalAddress | None:
    """An order's address as the port's, in the same cleaned form a customer is written."""
    if address is None:
        return None
    return _postal(address_fields(address), address.name)


def name_parts(order: CanonicalOrder) -> dict[str, str]:
    """given_name, family_name and company, for ledgers that keep them apart (QuickBooks)."""
    buyer = order.buyer
    address = order.billing_address or order.shipping_address
    parts = {
        "given_name": (buyer.first_name if buyer else None) or "",
        "family_name": (buyer.last_name if buyer else None) or "",
        "company": (buyer.company if buyer else None)
        or (address.company if address else None)
        or "",
    }
    return {k: v.strip() for k, v in parts.items() if v and v.strip()}


def customer_details(
    fields: Mapping[str, Any], order: CanonicalOrder, settings: CustomerSettings
) -> CustomerDetails:
    """`new_customer_fields(order, settings)` as the port's `CustomerDetails`.

    `options` carries each ledger's placements: e-conomic's group, terms, VAT zone, layout and
    custom field; QuickBooks' rules (`settings.quickbooks`) and the name's parts. A ledger reads
    the ones it knows.
    """
    options: dict[str, str] = dict(settings.quickbooks.options())
    options.update(name_parts(order))
    for field, (_, ref) in _REFS.items():  # e-conomic's option names are fields.py's
        if field in fields:
            options[field] = str(fields[field][ref])
    if layout := fields.get("layout"):
        options["layout"] = str(layout["layout_number"])
    custom = settings.custom_field
    custom_value = fields.get(to_snake(custom.ledger_field)) if custom is not None else None
    if custom is not None and custom_value:
        options["custom_field"] = custom.ledger_field
        options["custom_value"] = str(custom_value)
    number = fields.get("customer_number")
    return CustomerDetails(
        name=str(fields.get("name") or ""),
        currency=str(fields["currency"]),
        email=fields.get("email"),
        phone=fields.get("telephone_and_fax_number"),
        vat_id=fields.get("corporate_identification_number"),
        ean=fields.get("ean"),
        billing=_postal(fields),
        shipping=postal_address(order.shipping_address)
        if "addresses" in settings.create_fields
        else None,
        number=str(number) if number is not None else None,
        options=options,
    )


def customer_changes(changes: Mapping[str, Any]) -> CustomerChanges:
    """`fields_to_update(...)` as the port's `CustomerChanges`."""
    values: dict[str, Any] = {
        port: changes[field] for field, port in _TEXT.items() if field in changes
    }
    for field, (port, number) in _REFS.items():
        if field in changes:
            values[port] = str(changes[field][number])
    billing = _postal({k: changes[k] for k in _ADDRESS if k in changes})
    if billing is not None:
        values["billing"] = billing
    return CustomerChanges(**values)


def held_fields(customer: LedgerCustomer) -> dict[str, Any]:
    """A port customer in fields.py's names, for `fields_to_update` to compare with."""
    held: dict[str, Any] = {
        "name": customer.name,
        "email": customer.email,
        "telephone_and_fax_number": customer.phones[0] if customer.phones else None,
        "corporate_identification_number": customer.vat_id,
        "ean": customer.ean,
    }
    for field, (port, number) in _REFS.items():
        value = getattr(customer, port)
        held[field] = {number: value} if value is not None else None
    billing = customer.billing
    if billing is not None:
        held.update(
            address="\n".join(billing.lines) or None,
            zip=billing.zip,
            city=billing.city,
            country=billing.country,
        )
    return held


def port_shop_fields(sources: Mapping[str, ShopField]) -> dict[str, ShopField]:
    """`shop_fields(...)` keyed by the port's names, for `LedgerError.blaming`."""
    return {SHOP_FIELD_NAMES.get(name, name): source for name, source in sources.items()}


def as_shown(customer_id: str) -> int | str:
    """A customer id as the admin API and the timeline show it: a number when it is one (as
    e-conomic's customer numbers always were), else the text."""
    if customer_id.isdigit() and not customer_id.startswith("0"):
        return int(customer_id)
    return customer_id
