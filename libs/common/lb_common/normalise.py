"""One spelling per email, phone number, name, CVR and EAN, so the same buyer matches itself.

Phone numbers become international form: '12 34 56 78', '+45 12345678' and '004512345678' are
all '+4512345678' for a Danish buyer. Numbers written without a country prefix are read in the
buyer's country (billing address) or, if unknown, the shop's home country from the settings.
CVR and EAN numbers are spelt by lb_common.identifiers, which every service shares.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from lb_common.identifiers import normalise_ean, normalise_vat_number

__all__ = [
    "PHONE_PLANS",
    "normalise_ean",
    "normalise_email",
    "normalise_name",
    "normalise_phone",
    "normalise_text",
    "normalise_vat_number",
]


class PhonePlan(NamedTuple):
    calling_code: str
    trunk_prefix: str  # dialled before national numbers inside the country ('0' in SE, DE, UK)
    national_length: int | None  # fixed length of national numbers, where there is one


# Countries a Danish shop meets most; others fall back to "digits as written".
PHONE_PLANS: dict[str, PhonePlan] = {
    "DK": PhonePlan("45", "", 8),
    "NO": PhonePlan("47", "", 8),
    "SE": PhonePlan("46", "0", None),
    "FI": PhonePlan("358", "0", None),
    "IS": PhonePlan("354", "", 7),
    "FO": PhonePlan("298", "", 6),
    "GL": PhonePlan("299", "", 6),
    "DE": PhonePlan("49", "0", None),
    "NL": PhonePlan("31", "0", 9),
    "BE": PhonePlan("32", "0", None),
    "FR": PhonePlan("33", "0", 9),
    "AT": PhonePlan("43", "0", None),
    "CH": PhonePlan("41", "0", 9),
    "GB": PhonePlan("44", "0", None),
    "IE": PhonePlan("353", "0", None),
    "PL": PhonePlan("48", "", 9),
    "ES": PhonePlan("34", "", 9),
    "IT": PhonePlan("39", "", None),  # Italy keeps its leading 0 after +39
    "US": PhonePlan("1", "1", 10),
    "CA": PhonePlan("1", "1", 10),
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_SPACES = re.compile(r"\s+")
_MIN_PHONE_DIGITS = 5


def normalise_email(email: str | None) -> str | None:
    """Trimmed, lower-case address; None when it is not an email address at all."""
    if not email:
        return None
    cleaned = email.strip().lower()
    if cleaned.startswith("mailto:"):
        cleaned = cleaned[len("mailto:") :].strip()
    cleaned = cleaned.rstrip(".")
    return cleaned if _EMAIL.match(cleaned) else None


def normalise_phone(phone: str | None, default_country: str | None = "DK") -> str | None:
    """International form ('+4512345678'); None when there are too few digits to be a number.

    A number without '+' or '00' is read in `default_country`; in a country with an unknown
    numbering plan (or none given) it is kept as its digits, without a '+'.
    """
    if not phone:
        return None
    text = phone.strip()
    if text.lower().startswith("tel:"):
        text = text[4:].strip()
    international = text.startswith("+") or text.startswith("00")
    if international:
        text = text.replace("(0)", "")  # '+44 (0)20 ...': the 0 is only dialled nationally
    digits = "".join(ch for ch in text if ch.isdigit())
    if text.startswith("00"):
        digits = digits[2:]
    if len(digits) < _MIN_PHONE_DIGITS:
        return None
    if international:
        return f"+{digits}"
    plan = PHONE_PLANS.get((default_country or "").strip().upper())
    if plan is None:
        return digits
    if plan.national_length and len(digits) == len(plan.calling_code) + plan.national_length:
        if digits.startswith(plan.calling_code):
            return f"+{digits}"  # '4512345678': the country code without '+'
    if plan.trunk_prefix and digits.startswith(plan.trunk_prefix):
        digits = digits[len(plan.trunk_prefix) :]
    return f"+{plan.calling_code}{digits}"


def normalise_name(name: str | None) -> str | None:
    """Case- and spacing-insensitive form of a name ('  Karen   JENSEN' → 'karen jensen')."""
    if not name:
        return None
    cleaned = _SPACES.sub(" ", name).strip().casefold()
    return cleaned or None


def normalise_text(value: object) -> str | None:
    """For free-text fields: trimmed, spacing collapsed, case kept; None when empty."""
    if value is None:
        return None
    cleaned = _SPACES.sub(" ", str(value)).strip()
    return cleaned or None
