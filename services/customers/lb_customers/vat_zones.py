"""Which e-conomic VAT zone a customer gets, by rule: the rules are data (VatZoneRules)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from lb_common.orders import CustomerType
from lb_common.vat_treatment import EU_COUNTRIES


def _country(code: str) -> str:
    text = code.strip().upper()
    if len(text) != 2 or not text.isalpha():
        raise ValueError(f"'{code}' is not a two-letter country code (ISO 3166-1, e.g. DK)")
    return text


class VatZoneRules(BaseModel):
    """Which e-conomic VAT zone a new customer gets. Data, not code: numbers differ per agreement.

    Order of the rules: a country listed in `country_zones` gets that zone; the home country is
    `domestic`; an EU country is `eu_business` when the buyer has a VAT (CVR) number (reverse
    charge) and `eu_private` otherwise; every other country is `abroad`. A missing country counts
    as the home country.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    home_country: str = Field(default="DK", description="The shop's own country (ISO code).")
    domestic: int = Field(default=1, ge=1, description="VAT zone for buyers in the home country.")
    eu_business: int = Field(
        default=2, ge=1, description="EU buyer with a VAT number: reverse charge."
    )
    eu_private: int = Field(
        default=1, ge=1, description="EU buyer without a VAT number: the seller charges VAT (OSS)."
    )
    abroad: int = Field(default=3, ge=1, description="Buyers outside the EU.")
    eu_countries: frozenset[str] = Field(
        default=EU_COUNTRIES, description="Countries counted as EU (ISO codes)."
    )
    country_zones: dict[str, int] = Field(
        default_factory=dict,
        description="Exceptions: a fixed VAT zone per country code, before all other rules.",
    )

    @field_validator("home_country")
    @classmethod
    def _home(cls, value: str) -> str:
        return _country(value)

    @field_validator("eu_countries")
    @classmethod
    def _eu(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset(_country(c) for c in value)

    @field_serializer("eu_countries")
    def _eu_sorted(self, value: frozenset[str]) -> list[str]:
        return sorted(value)  # a stable order for the settings API and diffs

    @field_validator("country_zones")
    @classmethod
    def _zones(cls, value: dict[str, int]) -> dict[str, int]:
        cleaned = {_country(c): zone for c, zone in value.items()}
        if any(zone < 1 for zone in cleaned.values()):
            raise ValueError("VAT zone numbers start at 1")
        return cleaned


def vat_zone_for(
    country_code: str | None,
    customer_type: CustomerType,
    rules: VatZoneRules,
    *,
    has_vat_number: bool | None = None,
) -> int:
    """The VAT zone for a buyer in `country_code`.

    `has_vat_number` says whether the buyer gave a VAT number; when not given, B2B and EAN buyers
    count as having one. Only EU buyers with a VAT number get reverse charge (`eu_business`).
    """
    country = (country_code or rules.home_country).strip().upper()
    if country in rules.country_zones:
        return rules.country_zones[country]
    if country == rules.home_country:
        return rules.domestic
    if country in rules.eu_countries:
        business = customer_type in ("b2b", "ean") if has_vat_number is None else has_vat_number
        return rules.eu_business if business else rules.eu_private
    return rules.abroad
