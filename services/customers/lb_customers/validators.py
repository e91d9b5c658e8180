"""Checks on the numbers that identify a customer, with reasons a bookkeeper can act on.

Each check comes twice: `*_problem(value)` returns the reason as text (None when valid), and
`validate_*(value)` returns the cleaned value or raises CustomerDecisionError with that reason.
"""

from __future__ import annotations

import re

from lb_common.errors import PermanentError

CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)
MAX_CUSTOMER_NUMBER = 999_999_999

_SEPARATORS = re.compile(r"[\s\-./]+")


class CustomerDecisionError(PermanentError):
    """The order cannot get a ledger customer until someone fixes the order or the settings."""


def clean_cvr(value: str) -> str:
    """'DK 12 34 56 74' → '12345674': separators and a leading DK removed (nothing else)."""
    text = _SEPARATORS.sub("", value).upper()
    return text[2:] if text.startswith("DK") else text


def clean_ean(value: str) -> str:
    return _SEPARATORS.sub("", value)


def cvr_problem(value: str | None) -> str | None:
    """Why `value` is not a Danish CVR number (8 digits, modulus 11), or None if it is one."""
    if value is None or not value.strip():
        return "The CVR number is empty."
    cvr = clean_cvr(value)
    if not cvr.isdigit() or len(cvr) != 8:
        return f"CVR number '{value.strip()}' is not valid: a CVR number has exactly 8 digits."
    if cvr[0] == "0":
        return f"CVR number '{value.strip()}' is not valid: a CVR number never starts with 0."
    if sum(int(d) * w for d, w in zip(cvr, CVR_WEIGHTS, strict=True)) % 11:
        return (
            f"CVR number '{value.strip()}' is not valid: the digits do not add up "
            "(modulus 11 check), so it is probably mistyped. Check it on cvr.dk."
        )
    return None


def validate_cvr(value: str | None) -> str:
    """The cleaned 8-digit CVR number; raises CustomerDecisionError when invalid."""
    if problem := cvr_problem(value):
        raise CustomerDecisionError(problem)
    assert value is not None
    return clean_cvr(value)


def gs1_check_digit(digits: str) -> int:
    """The GS1 check digit for `digits` (the number without its check digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def ean_problem(value: str | None) -> str | None:
    """Why `value` is not an EAN/GLN location number (13 digits, GS1 check digit), or None."""
    if value is None or not value.strip():
        return "The EAN number is empty."
    ean = clean_ean(value)
    if not ean.isdigit() or len(ean) != 13:
        return f"EAN number '{value.strip()}' is not valid: an EAN (GLN) number has 13 digits."
    if gs1_check_digit(ean[:12]) != int(ean[12]):
        return (
            f"EAN number '{value.strip()}' is not valid: the last digit (check digit) does not "
            "match the others, so it is probably mistyped. Ask the buyer for their EAN number."
        )
    return None


def validate_ean(value: str | None) -> str:
    """The cleaned 13-digit EAN number; raises CustomerDecisionError when invalid."""
    if problem := ean_problem(value):
        raise CustomerDecisionError(problem)
    assert value is not None
    return clean_ean(value)


def customer_number_problem(value: str | int | None) -> str | None:
    """Why `value` cannot be an e-conomic customer number (whole number 1..999999999)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "There is no customer number."
    if isinstance(value, bool):
        return f"'{value}' is not a customer number."
    text = str(value).strip()
    if not text.isdigit():
        return f"'{text}' cannot be an e-conomic customer number: it must be a whole number."
    if text.startswith("0"):
        return (
            f"'{text}' cannot be an e-conomic customer number: "
            "it must not start with 0 (and must be at least 1)."
        )
    if int(text) > MAX_CUSTOMER_NUMBER:
        return (
            f"'{text}' cannot be an e-conomic customer number: the largest is "
            f"{MAX_CUSTOMER_NUMBER} (9 digits)."
        )
    return None


def validate_customer_number(value: str | int | None) -> int:
    if problem := customer_number_problem(value):
        raise CustomerDecisionError(problem)
    assert value is not None
    return int(str(value).strip())
