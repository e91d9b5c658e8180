"""The fields written to a ledger customer: all allowed ones on create, changed ones on update.

Field names are CustomerCreate's (snake_case; `CustomerCreate.model_validate` accepts them).
Values are never cleared: a detail missing on the order leaves the ledger's value alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic.alias_generators import to_snake

from lb_common.normalise import (
    normalise_ean,
    normalise_email,
    normalise_phone,
    normalise_text,
    normalise_vat_number,
)
from lb_common.orders import Address, CanonicalOrder
from lb_connectors.ledger.errors import ShopField

from .config import CustomerField, CustomerSettings, Profile
from .matching import (
    buyer_country,
    buyer_ean,
    buyer_phone,
    buyer_vat_number,
    ledger_value,
    shop_value,
)
from .naming import customer_name
from .validators import CustomerDecisionError, customer_number_problem
from .vat_zones import vat_zone_for

# e-conomic's maximum lengths.
_LIMITS = {"address": 510, "zip": 30, "city": 50, "country": 50, "email": 255}
_REFS = {
    "customer_group": "customer_group_number",
    "payment_terms": "payment_terms_number",
    "vat_zone": "vat_zone_number",
}


def _street(address: Address) -> str | None:
    parts = [p.strip() for p in (address.address1, address.address2) if p and p.strip()]
    return "\n".join(parts) or None


def address_fields(address: Address | None) -> dict[str, str]:
    """An address as the ledger customer's address, zip, city and country (absent parts left out)."""
    if address is None:
        return {}
    values = {
        "address": _street(address),
        "zip": normalise_text(address.zip),
        "city": normalise_text(address.city),
        "country": normalise_text(address.country),
    }
    return {k: v[: _LIMITS[k]] for k, v in values.items() if v}


def profile(order: CanonicalOrder, settings: CustomerSettings) -> Profile:
    """The settings for this order's buyer type (per-type profiles when switched on)."""
    return settings.profile_for(order.buyer.customer_type if order.buyer else "b2c")


def vat_zone_number(order: CanonicalOrder, settings: CustomerSettings) -> int:
    """The VAT zone for this buyer: a fixed zone from the defaults, else by the rules."""
    prof = profile(order, settings)
    if prof.defaults.vat_zone is not None:
        return prof.defaults.vat_zone
    buyer = order.buyer
    return vat_zone_for(
        buyer_country(order, settings),
        prof.customer_type,
        settings.vat_zones,
        has_vat_number=bool(buyer and buyer.vat_number),
    )


def new_customer_number(order: CanonicalOrder, settings: CustomerSettings) -> int | None:
    """The number for a new customer: None lets e-conomic choose it (the default).

    With `customer_number_source: "shop_customer_id"` it is the shop's customer id; raises
    CustomerDecisionError when the order has none or it cannot be an e-conomic number.
    """
    if settings.customer_number_source == "ledger":
        return None
    shop_id = shop_value("shop_customer_id", order, settings)
    if shop_id is None:
        raise CustomerDecisionError(
            "New customers take their number from the shop's customer id, but this order has "
            "no shop customer (guest checkout). Link the buyer to a customer by hand, or let "
            "e-conomic number new customers (customer_number_source: ledger)."
        )
    if problem := customer_number_problem(shop_id):
        raise CustomerDecisionError(
            f"The shop's customer id cannot be used as the customer number: {problem} "
            "Let e-conomic number new customers (customer_number_source: ledger) or match on "
            "a custom field instead."
        )
    return int(shop_id)


def _field_values(
    order: CanonicalOrder, settings: CustomerSettings, wanted: set[CustomerField]
) -> dict[str, object]:
    """The e-conomic fields for the `wanted` customer fields, from the order and the defaults."""
    buyer = order.buyer
    prof = profile(order, settings)
    out: dict[str, object] = {}
    if "name" in wanted:
        out["name"] = customer_name(order, settings)
    if "email" in wanted and buyer is not None:
        if email := normalise_email(buyer.email):
            out["email"] = email[: _LIMITS["email"]]
    if "phone" in wanted and (phone := buyer_phone(order, settings)):
        out["telephone_and_fax_number"] = phone
    if "cvr" in wanted and (vat := buyer_vat_number(order, settings)):
        out["corporate_identification_number"] = vat[:40]
    if "ean" in wanted and (ean := buyer_ean(order)):
        out["ean"] = ean
    if "group" in wanted:
        out["customer_group"] = {"customer_group_number": prof.defaults.customer_group}
    if "payment_terms" in wanted:
        out["payment_terms"] = {"payment_terms_number": prof.defaults.payment_terms}
    if "vat_zone" in wanted:
        out["vat_zone"] = {"vat_zone_number": vat_zone_number(order, settings)}
    return out


def new_customer_fields(order: CanonicalOrder, settings: CustomerSettings) -> dict[str, object]:
    """The fields of a new ledger customer (CustomerCreate's names), limited to create_fields.

    Raises CustomerDecisionError for an invalid CVR/EAN number or shop customer number.
    """
    wanted = set(settings.create_fields)
    fields: dict[str, object] = {"currency": order.currency}
    fields.update(_field_values(order, settings, wanted))
    # An EAN buyer must have a valid EAN even when it is not written: e-invoices need it.
    if profile(order, settings).customer_type == "ean":
        buyer_ean(order)
    defaults = profile(order, settings).defaults
    if defaults.layout is not None:
        fields["layout"] = {"layout_number": defaults.layout}
    if "addresses" in wanted:
        fields.update(address_fields(order.billing_address or order.shipping_address))
    if (number := new_customer_number(order, settings)) is not None:
        fields["customer_number"] = number
    custom = settings.custom_field
    if custom is not None and custom.write_on_create:
        if value := shop_value(custom.shop_value, order, settings):
            fields[to_snake(custom.ledger_field)] = value
    return fields


def _ref_number(value: Any, number_field: str) -> int | None:
    if isinstance(value, Mapping):
        found = ledger_value(value, number_field)
        return int(found) if found is not None else None
    if value is None:
        return None
    number = getattr(value, number_field, None)
    return int(number) if number is not None else None


def _unchanged(
    field: str, new: object, old: Any, order: CanonicalOrder, settings: CustomerSettings
) -> bool:
    if field in _REFS:
        assert isinstance(new, Mapping)
        return _ref_number(old, _REFS[field]) == new[_REFS[field]]
    if old is None:
        return False
    if field == "email":
        return any(normalise_email(p) == new for p in str(old).replace(",", ";").split(";"))
    if field == "telephone_and_fax_number":
        return normalise_phone(str(old), buyer_country(order, settings)) == new
    if field == "corporate_identification_number":
        return normalise_vat_number(str(old)) == new
    if field == "ean":
        return normalise_ean(str(old)) == new
    old_text = normalise_text(old)
    new_text = normalise_text(new)
    return (old_text or "").casefold() == (new_text or "").casefold()


def fields_to_update(
    existing_ledger_customer_fields: Mapping[str, Any],
    order: CanonicalOrder,
    settings: CustomerSettings,
) -> dict[str, object]:
    """The fields this order should change on an existing ledger customer (empty: none).

    Only fields in `update_fields` (plus the billing address when `update_addresses` is billing
    or both), and only where the order's value differs from the ledger's (normalised: 'Jane@X.dk'
    equals 'jane@x.dk', '12 34 56 78' equals '+4512345678'). `existing_ledger_customer_fields`
    may use snake_case or e-conomic's camelCase names (a Customer's model_dump() or the JSON).
    To write: merge into the customer's current body (PUT replaces the whole customer).
    """
    wanted = set(settings.update_fields)
    desired = _field_values(order, settings, wanted)
    if settings.update_addresses in ("billing", "both"):
        desired.update(address_fields(order.billing_address))
    return {
        field: value
        for field, value in desired.items()
        if not _unchanged(
            field, value, ledger_value(existing_ledger_customer_fields, field), order, settings
        )
    }


def delivery_location_for(
    existing_locations: Sequence[Mapping[str, Any]],
    order: CanonicalOrder,
    settings: CustomerSettings,
) -> dict[str, str] | None:
    """A delivery location to add for the order's shipping address, or None.

    Only when `update_addresses` is shipping or both, the order has a shipping address, and no
    existing delivery location of the customer has the same address. Keys are e-conomic's
    delivery-location names in snake_case: address, postal_code, city, country.
    """
    if settings.update_addresses not in ("shipping", "both"):
        return None
    fields = address_fields(order.shipping_address)
    if not fields.get("address"):
        return None
    location = {("postal_code" if k == "zip" else k): v for k, v in fields.items()}

    def same(existing: Mapping[str, Any]) -> bool:
        return all(
            (normalise_text(ledger_value(existing, k)) or "").casefold() == v.casefold()
            for k, v in location.items()
        )

    return None if any(same(e) for e in existing_locations) else location


_SHOP_VALUE_NAMES = {
    "shop_customer_id": "shop customer id",
    "email": "email address",
    "phone": "phone number",
    "cvr": "CVR/VAT number",
    "ean": "EAN number",
}


def shop_fields(order: CanonicalOrder, settings: CustomerSettings) -> dict[str, ShopField]:
    """Where a customer's values written from the order came from in the shop, by e-conomic's
    field name, so a refusal names the shop field (see `blame_shop_fields`)."""
    buyer = order.buyer
    out: dict[str, ShopField] = {}
    if buyer is not None:
        if buyer.email:
            out["email"] = ShopField("email address", buyer.email, "the order")
        if buyer.phone:
            out["telephoneAndFaxNumber"] = ShopField("phone number", buyer.phone, "the order")
        if buyer.vat_number:
            out["corporateIdentificationNumber"] = ShopField(
                "CVR/VAT number", buyer.vat_number, buyer.vat_number_source
            )
        if buyer.ean:
            out["ean"] = ShopField("EAN number", buyer.ean, buyer.ean_source)
    address = order.billing_address or order.shipping_address
    if address is not None:
        where = f"the order's {'billing' if order.billing_address else 'shipping'} address"
        for name, what, value in (
            ("address", "street address", _street(address)),
            ("zip", "zip code", address.zip),
            ("city", "city", address.city),
            ("country", "country", address.country),
        ):
            if value:
                out[name] = ShopField(what, value, where)
    custom = settings.custom_field
    if custom is not None:
        try:
            value = shop_value(custom.shop_value, order, settings)
        except CustomerDecisionError:
            value = None  # refused before it could be sent; nothing to explain here
        if value:
            what = _SHOP_VALUE_NAMES[custom.shop_value]
            out[custom.ledger_field] = ShopField(what, value, "the order")
    return out
