"""The customers service's settings per connection (PUT /connections/{name}/settings).

Every setting has a default, so `{}` is a complete configuration. Unknown names are refused
(extra="forbid") so a misspelt setting fails loudly instead of silently doing nothing.
docs/customers-settings.md is the reference for bookkeepers.
"""

from __future__ import annotations

from string import Formatter
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lb_common.orders import CustomerType

from .vat_zones import VatZoneRules

MatchField = Literal["email", "phone", "customer_number", "name", "cvr", "ean", "custom_field"]
"""What a buyer is matched on. `customer_number` is the shop's customer id (Shopify customer id);
`cvr` is the VAT/CVR number (the ledger's corporateIdentificationNumber); `custom_field` is the
field named in `custom_field`."""

CustomerField = Literal[
    "name", "email", "phone", "addresses", "cvr", "ean", "group", "payment_terms", "vat_zone"
]
ALL_CUSTOMER_FIELDS: tuple[CustomerField, ...] = get_args(CustomerField)
REQUIRED_ON_CREATE: tuple[CustomerField, ...] = ("name", "group", "payment_terms", "vat_zone")

AddressUpdate = Literal["off", "billing", "shipping", "both"]
CustomerNumberSource = Literal["ledger", "shop_customer_id"]
ShopValue = Literal["shop_customer_id", "email", "phone", "cvr", "ean"]
LedgerTextField = Literal["publicEntryNumber", "website", "pNumber", "vatNumber", "mobilePhone"]

NAME_PLACEHOLDERS = frozenset({"first", "last", "company", "email"})


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class CustomerDefaults(_Settings):
    """What a new ledger customer gets besides the buyer's own details."""

    customer_group: int = Field(default=1, ge=1)
    """e-conomic customer group number."""
    payment_terms: int = Field(default=1, ge=1)
    """e-conomic payment terms number."""
    layout: int | None = Field(default=None, ge=1)
    """e-conomic layout number; empty: the customer group's layout."""
    vat_zone: int | None = Field(default=None, ge=1)
    """A fixed VAT zone number; empty: chosen by the `vat_zones` rules."""


class CustomFieldMatch(_Settings):
    """A ledger customer field that holds a value from the shop, for matching on it."""

    ledger_field: LedgerTextField = "publicEntryNumber"
    """The e-conomic customer field (its API name) that holds the shop's value."""
    shop_value: ShopValue = "shop_customer_id"
    """Which of the buyer's details is stored there."""
    write_on_create: bool = True
    """Write the shop's value into that field on customers this service creates."""


class QuickBooksRules(_Settings):
    """How customers are named, found and updated in QuickBooks Online (used only when the
    connection's ledger is QuickBooks; passed to its adapter, docs/ledger-port.md)."""

    name_format: Literal["first_last", "last_first", "company", "email"] = "first_last"
    """The customer's name: "Ann Lee", "Lee, Ann", the company (else first_last), the e-mail."""
    name_field: Literal["DisplayName", "CompanyName", "PrintOnCheckName"] = "DisplayName"
    """The field that gets the name besides DisplayName."""
    update_addresses: Literal["none", "billing", "shipping", "both"] = "none"
    """A known customer's BillAddr/ShipAddr updated from each new order."""
    when_not_found: Literal["create", "standard_customer"] = "create"
    """No match: create a customer, or book on `standard_customer_id`."""
    standard_customer_id: str | None = Field(default=None, min_length=1, max_length=20)
    """The QuickBooks customer Id for buyers not found (when_not_found: standard_customer)."""
    default_customer_id: str | None = Field(default=None, min_length=1, max_length=20)
    """The QuickBooks customer Id for orders without customer details."""

    @model_validator(mode="after")
    def _standard_named(self) -> QuickBooksRules:
        if self.when_not_found == "standard_customer" and self.standard_customer_id is None:
            raise ValueError(
                "quickbooks.when_not_found is standard_customer, but "
                "quickbooks.standard_customer_id is not set"
            )
        return self

    def options(self) -> dict[str, str]:
        """As `CustomerDetails.options` (strings; unset Ids left out)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class TypeProfile(_Settings):
    """How one customer type (B2C, B2B or EAN) is matched and what its new customers get."""

    match_on: MatchField
    """The first match key for this type."""
    match_on_second: MatchField | None = None
    """Tried when the first key is missing on the order or finds nothing in the ledger."""
    defaults: CustomerDefaults | None = None
    """Defaults for new customers of this type; empty: the top-level `defaults`."""

    @model_validator(mode="after")
    def _distinct(self) -> TypeProfile:
        if self.match_on_second == self.match_on:
            raise ValueError("match_on_second must differ from match_on")
        return self


class Profile(BaseModel):
    """The settings that apply to one order's buyer (after per-type handling is resolved)."""

    model_config = ConfigDict(frozen=True)

    customer_type: CustomerType
    match_on: MatchField
    match_on_second: MatchField | None
    defaults: CustomerDefaults


def _check_name_format(value: str) -> str:
    try:
        names = {name for _, name, _, _ in Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ValueError(f"name format '{value}' is not valid: {exc}") from exc
    unknown = names - NAME_PLACEHOLDERS
    if unknown or "" in names:
        raise ValueError(
            f"name format '{value}' uses {sorted(unknown or {'{}'})}; "
            f"allowed are {{first}}, {{last}}, {{company}}, {{email}}"
        )
    return value


class CustomerSettings(_Settings):
    """The customers service's part of a connection's settings (reference: docs)."""

    match_on: MatchField = "email"
    """The buyer detail that finds their ledger customer."""
    match_on_second: MatchField | None = None
    """A second key, tried when the first is missing on the order or finds nothing."""
    custom_field: CustomFieldMatch | None = None
    """Needed when a match key is `custom_field`: which ledger field holds which shop value."""
    per_customer_type: bool = False
    """Handle B2C, B2B and EAN buyers separately, each with the profile below."""
    b2c: TypeProfile = TypeProfile(match_on="email")
    """Private buyers (used when per_customer_type is on)."""
    b2b: TypeProfile = TypeProfile(match_on="cvr", match_on_second="email")
    """Business buyers, identified by CVR/VAT number (used when per_customer_type is on)."""
    ean: TypeProfile = TypeProfile(match_on="ean")
    """Public-sector buyers with an EAN number (used when per_customer_type is on)."""
    customer_number_source: CustomerNumberSource = "ledger"
    """Who numbers new customers: e-conomic, or the shop's customer id."""
    create_if_missing: bool = True
    """When no ledger customer matches: create one (true) or book on the default customer."""
    default_customer_number: int | None = Field(default=None, ge=1, le=999_999_999)
    """The ledger customer for orders without customer details (and when not creating)."""
    single_customer: bool = False
    """Book every order on the default customer (collect all sales on one customer)."""
    create_fields: tuple[CustomerField, ...] = ALL_CUSTOMER_FIELDS
    """The fields written when a customer is created."""
    update_fields: tuple[CustomerField, ...] = ()
    """The fields a later order may change on an existing customer (addresses: see below)."""
    update_addresses: AddressUpdate = "off"
    """Let new orders update the customer's address: billing, shipping (delivery), or both."""
    defaults: CustomerDefaults = CustomerDefaults()
    """Defaults for new customers."""
    vat_zones: VatZoneRules = VatZoneRules()
    """The VAT zone rules for new customers."""
    name_format: str = "{first} {last}"
    """The ledger name of a private buyer."""
    company_name_format: str = "{company}"
    """The ledger name of a business or EAN buyer."""
    quickbooks: QuickBooksRules = QuickBooksRules()
    """Naming, address updates and standard/default customers in QuickBooks Online."""

    @field_validator("name_format", "company_name_format")
    @classmethod
    def _formats(cls, value: str) -> str:
        return _check_name_format(value)

    @field_validator("create_fields", "update_fields")
    @classmethod
    def _unique(cls, value: tuple[CustomerField, ...]) -> tuple[CustomerField, ...]:
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _consistent(self) -> CustomerSettings:
        if self.match_on_second == self.match_on:
            raise ValueError("match_on_second must differ from match_on")
        keys = {self.match_on, self.match_on_second}
        if self.per_customer_type:
            for profile in (self.b2c, self.b2b, self.ean):
                keys |= {profile.match_on, profile.match_on_second}
        if "custom_field" in keys and self.custom_field is None:
            raise ValueError("a match key is custom_field, but `custom_field` is not set")
        if self.single_customer and self.default_customer_number is None:
            raise ValueError("single_customer needs default_customer_number")
        missing = [f for f in REQUIRED_ON_CREATE if f not in self.create_fields]
        if missing:
            raise ValueError(
                f"create_fields must include {', '.join(missing)}: "
                "e-conomic needs them on every new customer"
            )
        if "addresses" in self.update_fields:
            raise ValueError(
                "address updates are set with update_addresses (billing, shipping or both), "
                "not in update_fields"
            )
        return self

    def profile_for(self, customer_type: CustomerType) -> Profile:
        """The match keys and defaults for a buyer of `customer_type`."""
        if not self.per_customer_type:
            return Profile(
                customer_type=customer_type,
                match_on=self.match_on,
                match_on_second=self.match_on_second,
                defaults=self.defaults,
            )
        profile = {"b2c": self.b2c, "b2b": self.b2b, "ean": self.ean}[customer_type]
        return Profile(
            customer_type=customer_type,
            match_on=profile.match_on,
            match_on_second=profile.match_on_second,
            defaults=profile.defaults or self.defaults,
        )
