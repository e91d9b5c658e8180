"""The ledger's name for a buyer: company name for businesses, a person's name otherwise."""

from __future__ import annotations

import re
from string import Formatter

from lb_common.orders import CanonicalOrder

from .config import CustomerSettings

NAME_MAX = 255
_SPACES = re.compile(r"\s+")
_EDGE = " ,;:-/|"


def format_name(template: str, values: dict[str, str]) -> str:
    """`template` filled from `values`; '' when every placeholder in it is empty.

    Separators left dangling by an empty part are dropped: '{last}, {first}' without a last
    name gives 'Karen', not ', Karen'.
    """
    names = [name for _, name, _, _ in Formatter().parse(template) if name]
    if names and not any(values.get(name) for name in names):
        return ""
    text = template.format_map({name: values.get(name, "") for name in names})
    text = _SPACES.sub(" ", text)
    text = re.sub(r"\s+([,;:])", r"\1", text)  # 'Jensen , Karen' → 'Jensen, Karen'
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)  # doubled separators
    return text.strip(_EDGE)


def customer_name(order: CanonicalOrder, settings: CustomerSettings | None = None) -> str:
    """Company name for business buyers, else 'first last' (formats in the settings).

    Never empty (e-conomic requires a name): falls back to the address name, the email address
    and finally 'Webshop customer <order>'.
    """
    settings = settings or CustomerSettings()
    buyer = order.buyer
    address = order.billing_address or order.shipping_address
    values = {
        "first": (buyer.first_name or "").strip() if buyer else "",
        "last": (buyer.last_name or "").strip() if buyer else "",
        "company": ((buyer.company if buyer else None) or (address.company if address else None))
        or "",
        "email": (buyer.email or "").strip() if buyer else "",
    }
    values["company"] = values["company"].strip()
    candidates: list[str] = []
    if buyer is not None and buyer.customer_type in ("b2b", "ean"):
        candidates.append(format_name(settings.company_name_format, values))
    if buyer is not None:
        candidates.append(format_name(settings.name_format, values))
    if address is not None and address.name:
        candidates.append(_SPACES.sub(" ", address.name).strip())
    if buyer is not None and buyer.email:
        candidates.append(buyer.email.strip())
    candidates.append(f"Webshop customer {order.order_name}")
    return next(c for c in candidates if c)[:NAME_MAX]


def buyer_name(order: CanonicalOrder, settings: CustomerSettings | None = None) -> str | None:
    """The buyer's real name as the ledger would show it, without the email/order fallbacks.

    Used for matching on name: a placeholder name must never match another order's buyer.
    """
    settings = settings or CustomerSettings()
    name = customer_name(order, settings)
    buyer = order.buyer
    placeholders = {f"Webshop customer {order.order_name}"[:NAME_MAX]}
    if buyer is not None and buyer.email:
        placeholders.add(buyer.email.strip()[:NAME_MAX])
    return None if name in placeholders else name
