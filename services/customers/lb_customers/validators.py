"""Checks on the numbers that identify a customer, with reasons a bookkeeper can act on.

Each check comes twice: `*_problem(value)` returns the reason as text (None when valid), and
`validate_*(value)` returns the cleaned value or raises CustomerDecisionError with that reason.
The CVR and EAN checks are shared with the other services (lb_common.identifiers).
"""

from __future__ import annotations

from lb_common.errors import PermanentError
from lb_common.identifiers import (
    NUMBER_FIX,
    clean_cvr,
    clean_ean,
    cvr_problem,
    ean_problem,
    gs1_check_digit,
)

__all__ = [
    "CustomerDecisionError",
    "clean_cvr",
    "clean_ean",
    "customer_number_problem",
    "cvr_problem",
    "ean_problem",
    "gs1_check_digit",
    "validate_customer_number",
    "validate_cvr",
    "validate_ean",
]

MAX_CUSTOMER_NUMBER = 999_999_999


class CustomerDecisionError(PermanentError):
    """The order cannot get a ledger customer until someone fixes the order or the settings."""


def validate_cvr(value: str | None, source: str | None = None) -> str:
    """The cleaned 8-digit CVR number; raises CustomerDecisionError when invalid.

    `source` names the shop field the number came from, for the reason.
    """
    if problem := cvr_problem(value, source):
        raise CustomerDecisionError(f"{problem} {NUMBER_FIX}")
    assert value is not None
    return clean_cvr(value)


def validate_ean(value: str | None, source: str | None = None) -> str:
    """The cleaned 13-digit EAN number; raises CustomerDecisionError when invalid."""
    if problem := ean_problem(value, source):
        raise CustomerDecisionError(f"{problem} {NUMBER_FIX}")
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
