"""Customer classification shared by all adapters."""

from __future__ import annotations

from lb_common.orders import CustomerType

from .base import CustomerFieldMap


def customer_type(
    *, vat_number: str | None, ean: str | None, company: str | None, fields: CustomerFieldMap
) -> CustomerType:
    # An EAN number means a Danish public-sector buyer, invoiced electronically: it outranks CVR.
    if ean:
        return "ean"
    if vat_number:
        return "b2b"
    if company and fields.billing_company_is_b2b:
        return "b2b"
    return "b2c"
