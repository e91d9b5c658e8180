"""CVR/VAT and EAN numbers: one spelling and one check, for every service.

Buyers type these numbers with spaces, dashes or dots ('DK 12 34 56 74', '579 0000 000005');
the ledger wants digits only. The order keeps what the buyer typed (so a failure can quote it);
whoever writes or compares a number uses `normalise_*` here, and `*_problem` says in a
bookkeeper's words why a number cannot be right.
"""

from __future__ import annotations

import re

CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)

# What to do about a wrong number typed at the checkout.
NUMBER_FIX = (
    "Ask the buyer for the right number, correct it on the order in the shop, "
    "then replay the order."
)

_SEPARATORS = re.compile(r"[\s\-./]+")


def clean_cvr(value: str) -> str:
    """'DK 12 34 56 74' → '12345674': separators and a leading DK removed (nothing else)."""
    text = _SEPARATORS.sub("", value).upper()
    return text[2:] if text.startswith("DK") else text


def clean_ean(value: str) -> str:
    """'579 0000 000005' → '5790000000005': separators removed (nothing else)."""
    return _SEPARATORS.sub("", value)


def normalise_vat_number(value: str | None) -> str | None:
    """'DK 12 34 56 74' → '12345674'; foreign numbers keep their prefix ('DE123456789')."""
    if not value or not value.strip():
        return None
    return clean_cvr(value) or None


def normalise_ean(value: str | None) -> str | None:
    """'579 0000 000005' → '5790000000005'; None when there is no number."""
    if not value or not value.strip():
        return None
    return clean_ean(value) or None


def _quoted(value: str, source: str | None) -> str:
    return f"'{value.strip()}' from {source}" if source else f"'{value.strip()}'"


def cvr_problem(value: str | None, source: str | None = None) -> str | None:
    """Why `value` is not a Danish CVR number (8 digits, modulus 11), or None if it is one.

    `source` says where the number came from ("the order's note attribute 'CVR'").
    """
    if value is None or not value.strip():
        return "The CVR number is empty."
    cvr = clean_cvr(value)
    number = f"The CVR number {_quoted(value, source)}"
    if not cvr.isdigit() or len(cvr) != 8:
        problem = "is not valid: a CVR number has exactly 8 digits."
    elif cvr[0] == "0":
        problem = "is not valid: a CVR number never starts with 0."
    elif sum(int(d) * w for d, w in zip(cvr, CVR_WEIGHTS, strict=True)) % 11:
        problem = (
            "is not valid: the digits do not add up (modulus 11 check), so it is probably "
            "mistyped. Check it on cvr.dk."
        )
    else:
        return None
    return f"{number} {problem}"


def gs1_check_digit(digits: str) -> int:
    """The GS1 check digit for `digits` (the number without its check digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def ean_problem(value: str | None, source: str | None = None) -> str | None:
    """Why `value` is not an EAN/GLN location number (13 digits, GS1 check digit), or None.

    `source` says where the number came from ("the order's note attribute 'EAN'").
    """
    if value is None or not value.strip():
        return "The EAN number is empty."
    ean = clean_ean(value)
    number = f"The EAN number {_quoted(value, source)}"
    if not ean.isdigit() or len(ean) != 13:
        return (
            f"{number} is not a valid EAN number: an EAN (GLN) location number has 13 digits "
            "(spaces and dashes are fine)."
        )
    if gs1_check_digit(ean[:12]) != int(ean[12]):
        return (
            f"{number} is not a valid EAN number: the last digit (check digit) does not match "
            "the others, so it is probably mistyped."
        )
    return None
