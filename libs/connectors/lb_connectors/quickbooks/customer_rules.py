"""The bookkeeper's customer settings for QuickBooks (as Webgility Unify offers them), carried in
`CustomerDetails.options` and decided here as plain functions:

- `name_format`: how the customer's name is built: `first_last` ("Ann Lee"), `last_first`
  ("Lee, Ann"), `company` (the company, else first_last), `email`;
- `name_field`: where it goes besides DisplayName (which QuickBooks requires unique):
  `DisplayName` only, `CompanyName`, or `PrintOnCheckName`;
- `update_addresses`: from each new order of a known customer, update `none`, `billing`,
  `shipping` or `both` of BillAddr/ShipAddr (a sparse update);
- `when_not_found`: `create` a customer, or book on `standard_customer_id`;
- `default_customer_id`: the customer for orders without customer details (no e-mail, no name).
Option values are strings (the port's options are); the name parts come in as `given_name`,
`family_name` and `company`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from lb_connectors.ledger.errors import LedgerRefused
from lb_connectors.ledger.models import CustomerDetails, PostalAddress

NameFormat = Literal["first_last", "last_first", "company", "email"]
NameField = Literal["DisplayName", "CompanyName", "PrintOnCheckName"]
Addresses = Literal["none", "billing", "shipping", "both"]


class CustomerRules(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name_format: NameFormat = "first_last"
    name_field: NameField = "DisplayName"
    update_addresses: Addresses = "none"
    when_not_found: Literal["create", "standard_customer"] = "create"
    standard_customer_id: str | None = None
    default_customer_id: str | None = None

    @model_validator(mode="after")
    def _standard_named(self) -> CustomerRules:
        if self.when_not_found == "standard_customer" and not self.standard_customer_id:
            raise ValueError("when_not_found=standard_customer needs standard_customer_id")
        return self

    @classmethod
    def of(cls, options: dict[str, str]) -> CustomerRules:
        try:
            return cls.model_validate(options)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
            )
            raise LedgerRefused(
                f"The connection's QuickBooks customer settings are not valid ({problems}); "
                "correct them, then replay the order"
            ) from exc


def has_customer_details(details: CustomerDetails) -> bool:
    return bool(details.email or details.name.strip() or details.options.get("company", "").strip())


def customer_name(rules: CustomerRules, details: CustomerDetails) -> str:
    options = details.options
    first = options.get("given_name", "").strip()
    last = options.get("family_name", "").strip()
    if not first and not last:
        first, _, last = details.name.strip().rpartition(" ")
        first, last = (first, last) if first else (last, "")
    company = options.get("company", "").strip()
    first_last = " ".join(p for p in (first, last) if p)
    built = {
        "first_last": first_last,
        "last_first": ", ".join(p for p in (last, first) if p),
        "company": company or first_last,
        "email": details.email or "",
    }[rules.name_format]
    return built or first_last or company or details.email or details.name


def address_body(address: PostalAddress) -> dict[str, Any]:
    body: dict[str, Any] = {
        f"Line{i}": text for i, text in enumerate(address.lines[:5], start=1) if text
    }
    for key, value in (
        ("City", address.city),
        ("PostalCode", address.zip),
        ("Country", address.country),
    ):
        if value:
            body[key] = value
    return body


def new_customer_fields(rules: CustomerRules, details: CustomerDetails) -> dict[str, Any]:
    """The body of a new customer (DisplayName is added by the clash rule)."""
    name = customer_name(rules, details)
    fields: dict[str, Any] = {}
    if rules.name_field != "DisplayName":
        fields[rules.name_field] = name[:100]
    first, last = details.options.get("given_name"), details.options.get("family_name")
    if first:
        fields["GivenName"] = first[:100]
    if last:
        fields["FamilyName"] = last[:100]
    if details.options.get("company") and rules.name_field != "CompanyName":
        fields["CompanyName"] = details.options["company"][:100]
    if details.email:
        fields["PrimaryEmailAddr"] = {"Address": details.email[:100]}
    if details.phone:
        fields["PrimaryPhone"] = {"FreeFormNumber": details.phone[:30]}
    if details.billing:
        fields["BillAddr"] = address_body(details.billing)
    if details.shipping:
        fields["ShipAddr"] = address_body(details.shipping)
    if details.vat_id:
        fields["ResaleNum"] = details.vat_id[:16]
    return fields


def address_updates(rules: CustomerRules, details: CustomerDetails) -> dict[str, Any]:
    """The sparse update a known customer gets from a new order (empty: none)."""
    fields: dict[str, Any] = {}
    if rules.update_addresses in ("billing", "both") and details.billing:
        fields["BillAddr"] = address_body(details.billing)
    if rules.update_addresses in ("shipping", "both") and details.shipping:
        fields["ShipAddr"] = address_body(details.shipping)
    return fields
