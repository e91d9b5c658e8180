"""The buyer's details in one spelling each: lb_common.normalise, which the ledger adapters
share (they compare a ledger's values with a match key the same way)."""

from lb_common.normalise import (
    PHONE_PLANS,
    normalise_ean,
    normalise_email,
    normalise_name,
    normalise_phone,
    normalise_text,
    normalise_vat_number,
)

__all__ = [
    "PHONE_PLANS",
    "normalise_ean",
    "normalise_email",
    "normalise_name",
    "normalise_phone",
    "normalise_text",
    "normalise_vat_number",
]
