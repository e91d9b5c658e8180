"""Typed, path-aware reading of webhook JSON, so every failure names the field that is wrong.

All adapters read bodies through `load()` and `Obj`: numbers never pass through float, and any
problem surfaces as PayloadError("line_items[2].price: 'abc' is not a number").

This runs on the request path of every webhook, so the readers take a short route for the values
bodies actually hold and keep the careful route (the one that words the error) for the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import msgspec
from pydantic import BaseModel, ValidationError

from lb_common.money import MoneyError, to_decimal

from .base import PayloadError

M = TypeVar("M", bound=BaseModel)
ZERO = Decimal("0")
# No real order amount comes near this; refusing larger ones keeps Decimal arithmetic from
# overflowing later (which would raise something other than PayloadError).
_MAX_ADJUSTED_EXPONENT = 18

# About twice as fast as json.loads on an order body. float_hook gets each JSON float's own text,
# so it becomes a Decimal without passing through float, as with json.loads(parse_float=Decimal).
_FAST_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def _reject_constant(name: str) -> Any:
    raise PayloadError(f"body is not valid JSON: {name} is not a number")


# Ingest reads one body several times in a row (parse_order, then parse_refunds_from_order; or
# parse_order_id after a PayloadError), so load() keeps the last body it parsed: a second decode
# of an 11 kB order costs about 90 µs (timeit, loaded 2-core machine), which is what reading its
# empty refunds list costs without this. It is recognised
# by identity, which is safe for bytes and str: immutable, the same object always holds the same
# JSON (and nothing here modifies what was parsed). One tuple, replaced whole: threads cannot
# see half of it.
_last_loaded: tuple[bytes | str, Obj] | None = None


def load(body: bytes | str) -> Obj:
    """Parse a body that must be a JSON object. JSON floats become Decimal, never float."""
    global _last_loaded
    last = _last_loaded
    if last is not None and last[0] is body:
        return last[1]
    data = _decode(body)
    if not isinstance(data, dict):
        raise PayloadError(f"body: expected a JSON object, got {_kind(data)}")
    obj = Obj(data, "")
    if isinstance(body, bytes | str):  # not a bytearray, which could change under the same id
        _last_loaded = (body, obj)
    return obj


class _TopLevelId(msgspec.Struct):
    id: int | str | None = None


# Decodes only the top-level "id" (the rest is checked to be JSON and skipped, nothing built).
_ID_DECODER = msgspec.json.Decoder(_TopLevelId)


def load_id(body: bytes | str) -> str:
    """`load(body).ident("id")` without building the document: what ingest's `web` processes
    need to admit an order (lb_ingest/fast_path/identify.py). On the 11 kB Shopify order of
    bench/ingest_webhooks.py, timeit on the loaded 2-core machine: 5 µs instead of 31 µs, and
    none of the few hundred objects that wake the garbage collector. Anything unusual (not an
    object, no usable id, what msgspec refuses) goes through load(), so the answer and the
    error are the same as before."""
    try:
        found = _ID_DECODER.decode(body).id
    except Exception:
        found = None
    if isinstance(found, int) and not isinstance(found, bool):
        return str(found)
    if isinstance(found, str) and found.strip():
        return found.strip()
    return load(body).ident("id")


def _decode(body: bytes | str) -> Any:
    if not isinstance(body, bytes | bytearray | str):
        return _decode_with_stdlib(body)  # which refuses what json.loads refuses (memoryview...)
    try:
        return _FAST_DECODER.decode(body)
    except Exception:
        # What msgspec refuses, json.loads decides: the same verdict and error message as before
        # for broken bodies, and the few inputs only json.loads accepts (UTF-16, lone surrogates)
        # still parse. Where msgspec does answer, it answers as json.loads would.
        return _decode_with_stdlib(body)


def _decode_with_stdlib(body: bytes | str) -> Any:
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except PayloadError:
        raise
    # ValueError covers JSONDecodeError, bad UTF-8 and Python's int-digit limit; deep nesting
    # exhausts the recursion limit.
    except (ValueError, TypeError, RecursionError) as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from None
    except ArithmeticError:  # decimal.InvalidOperation: an exponent no Decimal can hold
        raise PayloadError("body is not valid JSON: a number is out of range") from None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Obj:
    """A JSON object plus its path from the body root, for error messages."""

    __slots__ = ("data", "path")

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self.data = data
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, problem: str) -> PayloadError:
        return PayloadError(f"{self.where(key)}: {problem}")

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    # --- nested structures --------------------------------------------------------------

    def opt_obj(self, key: str) -> Obj | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(key, f"expected an object, got {_kind(value)}")
        return Obj(value, self.where(key))

    def obj(self, key: str) -> Obj:
        found = self.opt_obj(key)
        if found is None:
            raise self.error(key, "is required")
        return found

    def objs(self, key: str) -> list[Obj]:
        """A list of objects; absent or null reads as empty."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, f"expected an array, got {_kind(value)}")
        if not value:
            return []  # common (no tax lines, no discounts): skip building the path
        where = self.where(key)
        found = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise PayloadError(f"{where}[{index}]: expected an object, got {_kind(item)}")
            found.append(Obj(item, f"{where}[{index}]"))
        return found

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "expected an array of strings")
        return tuple(value)

    # --- scalars ------------------------------------------------------------------------

    def opt_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_kind(value)}")
        return value

    def text(self, key: str) -> str:
        value = self.opt_text(key)
        if value is None:
            raise self.error(key, "is required")
        return value

    def clean_text(self, key: str) -> str | None:
        """Optional text with surrounding blanks removed; "" reads as None."""
        value = self.data.get(key)
        if isinstance(value, str):  # the usual case, without the detour through opt_text
            return value.strip() or None
        return self.opt_text(key)  # None, or the error naming the field

    def opt_id(self, key: str) -> str | None:
        # Ids stay strings: Shopify's exceed 2^53, which JSON tooling with doubles cannot hold.
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
        raise self.error(key, f"{_short(value)} is not an id")

    def ident(self, key: str) -> str:
        value = self.opt_id(key)
        if value is None:
            raise self.error(key, "is required")
        return value

    def opt_money(self, key: str) -> Decimal | None:
        value = self.data.get(key)
        if value is None:
            return None
        amount = _plain_amount(value)
        if amount is None:
            amount = self._checked_amount(key, value)
        return amount

    def _checked_amount(self, key: str, value: object) -> Decimal:
        """opt_money for any value: the amount, or the PayloadError that says what is wrong."""
        if isinstance(value, list | dict):
            raise self.error(key, f"expected an amount, got {_kind(value)}")
        try:
            amount = to_decimal(value, field=self.where(key))
        except MoneyError as exc:
            raise PayloadError(str(exc)) from None
        if amount and amount.adjusted() > _MAX_ADJUSTED_EXPONENT:
            raise self.error(key, f"{_short(value)} is out of range")
        return amount

    def money(self, key: str, default: Decimal | None = None) -> Decimal:
        value = self.opt_money(key)
        if value is None:
            if default is None:
                raise self.error(key, "is required")
            return default
        return value

    def opt_int(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        raise self.error(key, f"{_short(value)} is not a whole number")

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_kind(value)}")
        return value

    def opt_when(self, key: str, *, naive_is_utc: bool = False) -> datetime | None:
        """An ISO-8601 timestamp converted to UTC.

        Without `naive_is_utc`, a timestamp lacking an offset is an error: guessing the zone
        would silently shift the order's time by hours.
        """
        value = self.opt_text(key)
        if value is None or not value.strip():
            return None
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise self.error(key, f"{_short(value)} is not an ISO-8601 timestamp") from None
        if parsed.tzinfo is None:
            if not naive_is_utc:
                raise self.error(key, f"{_short(value)} has no UTC offset")
            return parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise self.error(key, f"{_short(value)} is out of range") from None

    def when(self, key: str, *, naive_is_utc: bool = False) -> datetime:
        value = self.opt_when(key, naive_is_utc=naive_is_utc)
        if value is None:
            raise self.error(key, "is required")
        return value


def _plain_amount(value: object) -> Decimal | None:
    """The amount of a well-formed decimal string, int or Decimal (what bodies hold), else None.

    It agrees with Obj._checked_amount wherever it answers, at about half the cost; None sends
    the value there, to be read the careful way or refused with the field named.
    """
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            return None
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    else:
        return None
    if not amount.is_finite() or (amount and amount.adjusted() > _MAX_ADJUSTED_EXPONENT):
        return None
    return amount


def total(amounts: Iterator[Decimal] | list[Decimal]) -> Decimal:
    return sum(amounts, ZERO)


def single_rate(rates: list[Decimal]) -> Decimal | None:
    """The rate when every tax line agrees on one; None for none or a mix (e.g. GST + PST)."""
    distinct = set(rates)
    return distinct.pop() if len(distinct) == 1 else None


def first_named_match(
    pairs: list[tuple[str, str]], wanted: tuple[str, ...]
) -> tuple[str, str] | None:
    """(name as spelt on the order, value) of the first wanted name with a non-blank value."""
    by_name: dict[str, tuple[str, str]] = {}
    for name, value in pairs:
        key = name.strip().casefold()
        if value.strip() and key not in by_name:
            by_name[key] = (name.strip(), value.strip())
    if not by_name:
        return None  # most orders: nothing to look in, so no wanted name to normalise
    for name in wanted:
        found = by_name.get(name.strip().casefold())
        if found:
            return found
    return None


def name_value_pairs(items: list[Obj], name_key: str, value_key: str) -> list[tuple[str, str]]:
    """Name/value pairs from a list like note_attributes or meta_data.

    Entries whose name or value is not text (or a whole number) are skipped rather than failing
    the order: plugins store all sorts of things there, and only a few names matter to us.
    """
    pairs: list[tuple[str, str]] = []
    for item in items:
        name, value = item.raw(name_key), item.raw(value_key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(name, str) and isinstance(value, str):
            pairs.append((name, value))
    return pairs


def build(model: type[M], what: str, **fields: Any) -> M:
    """Construct a contract model; a validation failure becomes a PayloadError about `what`."""
    try:
        # What Model(**fields) does, minus BaseModel.__init__'s Python frame and the re-packing of
        # the keywords: about 1 µs of 4 per model, and an order builds about ten.
        validated: M = model.__pydantic_validator__.validate_python(fields)
        return validated
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(p) for p in first.get("loc", ()))
        detail = f"{location}: {first['msg']}" if location else first["msg"]
        raise PayloadError(f"{what}: {detail}") from None
