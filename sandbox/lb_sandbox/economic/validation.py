"""Request-body checks shared by the write endpoints (null refusal, required, references)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fastapi import Request

from .errors import DOES_NOT_EXIST, INVALID_VALUE, MISSING_VALUE, EconomicHTTPError, Path, Problems
from .jsonio import loads
from .paths import path_number

# The largest number the sandbox reads (.NET's System.Decimal, which e-conomic's amounts are
# read into, holds about this much); a larger one, e.g. 1e301, is refused as a 400.
NUMBER_MAX = Decimal("79228162514264337593543950335")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


async def read_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = loads(raw) if raw else None
    except ValueError as exc:
        raise EconomicHTTPError(400, "Invalid JSON.", "The request body must be JSON.") from exc
    if not isinstance(body, dict):
        raise EconomicHTTPError(400, "Invalid JSON.", "The request body must be a JSON object.")
    return body


def reject_nulls(value: Any, problems: Problems, path: Path = ()) -> None:
    """e-conomic refuses null ("Expected String but got Null"): clearing means omitting."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if item is None:
                problems.add(
                    (*path, str(key)),
                    INVALID_VALUE,
                    f"Expected a value but got Null for {key}; omit the property to clear it.",
                )
            else:
                reject_nulls(item, problems, (*path, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            reject_nulls(item, problems, (*path, i))


def get_path(body: Mapping[str, Any], path: Path) -> Any:
    value: Any = body
    for key in path:
        if isinstance(key, int):
            value = value[key] if isinstance(value, list) and key < len(value) else None
        else:
            value = value.get(key) if isinstance(value, Mapping) else None
    return value


def require(body: Mapping[str, Any], problems: Problems, *paths: Path) -> None:
    for path in paths:
        parent = get_path(body, path[:-1])
        if isinstance(parent, Mapping) and path[-1] in parent:
            continue  # present: a null there is already reported by reject_nulls
        if get_path(body, path) is None:
            problems.add(path, MISSING_VALUE, f"{path[-1]} is missing a value.")


def string(
    body: Mapping[str, Any],
    problems: Problems,
    path: Path,
    max_length: int,
    *,
    min_length: int = 0,
) -> str | None:
    value = get_path(body, path)
    if value is None:
        return None
    name = str(path[-1])
    if not isinstance(value, str):
        problems.add(path, INVALID_VALUE, f"Expected String but got {type(value).__name__}.", value)
        return None
    if len(value) > max_length or len(value) < min_length:
        problems.add(
            path,
            INVALID_VALUE,
            f"{name} must be between {min_length} and {max_length} characters.",
            value,
        )
        return None
    return value


def date_text(body: Mapping[str, Any], problems: Problems, path: Path) -> str | None:
    value = get_path(body, path)
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        problems.add(path, INVALID_VALUE, f"{path[-1]} must be a date (YYYY-MM-DD).", value)
        return None
    return value


def number(body: Mapping[str, Any], problems: Problems, path: Path) -> Decimal | None:
    value = get_path(body, path)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        problems.add(path, INVALID_VALUE, f"Expected Number but got {type(value).__name__}.", value)
        return None
    amount = Decimal(value)
    if not amount.is_finite() or abs(amount) > NUMBER_MAX:
        problems.add(path, INVALID_VALUE, "Value is out of range for a decimal number.", value)
        return None
    return amount


def decimals_beyond(value: Decimal, places: int) -> bool:
    """Whether `value` has more than `places` decimals (1.500 has two). Unlike comparing with
    `quantize`, it cannot raise for a value with more digits than the decimal context holds."""
    exponent = value.normalize().as_tuple().exponent
    return isinstance(exponent, int) and exponent < -places


def integer(
    body: Mapping[str, Any], problems: Problems, path: Path, *, minimum: int | None = None
) -> int | None:
    value = get_path(body, path)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(
            path, INVALID_VALUE, f"Expected Integer but got {type(value).__name__}.", value
        )
        return None
    if minimum is not None and value < minimum:
        problems.add(
            path, INVALID_VALUE, f"Integer {value} is less than minimum value of {minimum}.", value
        )
        return None
    return value


def reference(
    body: Mapping[str, Any],
    problems: Problems,
    path: Path,
    number_key: str,
    known: Mapping[int, Any],
) -> int | None:
    """Resolve `{"xNumber": n}` or `{"self": ".../n"}`; E06000 when it does not exist."""
    ref = get_path(body, path)
    if ref is None:
        return None
    name = str(path[-1])
    key: Any = ref.get(number_key) if isinstance(ref, Mapping) else None
    if key is None and isinstance(ref, Mapping) and isinstance(ref.get("self"), str):
        tail = ref["self"].rstrip("/").rsplit("/", 1)[-1]
        key = path_number(tail)
    if key is None or isinstance(key, bool) or not isinstance(key, int):
        problems.add(path, INVALID_VALUE, f"{name} needs {number_key} or a self link.")
        return None
    if key not in known:
        problems.add(path, DOES_NOT_EXIST, f"{name} does not exist.", key)
        return None
    return key


def currency_code(
    body: Mapping[str, Any], problems: Problems, path: Path, known: Mapping[str, Any]
) -> str | None:
    value = string(body, problems, path, 3, min_length=3)
    if value is None:
        return None
    if value.upper() not in known:
        problems.add(path, DOES_NOT_EXIST, f"{path[-1]} does not exist.", value)
        return None
    return value.upper()
