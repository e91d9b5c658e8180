"""All money arithmetic lives here: Decimal only, each currency's own exponent, one rounding rule.

Rounding rule (documented once, used everywhere): amounts are rounded half-up to the currency's
exponent per line; document totals are the sum of rounded lines, then compared with the shop's.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 currencies whose minor unit is not 2. Everything else uses 2 decimals.
_EXPONENTS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

ZERO = Decimal("0")


class MoneyError(ValueError):
    """A value that should be an amount of money is not one."""


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def to_decimal(value: object, *, field: str = "amount") -> Decimal:
    """Parse a platform money value (string, int, or the odd JSON number) without going via float."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"{field}: expected an amount, got {value!r}")
    if isinstance(value, float):
        # JSON numbers arrive as float from a generic parser; repr() is the shortest exact text.
        value = repr(value)
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{field}: {value!r} is not a number") from exc
    if not result.is_finite():
        raise MoneyError(f"{field}: {value!r} is not a finite number")
    return result


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's exponent (2 decimals for DKK, 0 for VND)."""
    quantum = Decimal(1).scaleb(-exponent(currency))
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


def round_2(amount: Decimal) -> Decimal:
    """Half-up to two decimals: e-conomic refuses `unitNetPrice` with more (E04740)."""
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
