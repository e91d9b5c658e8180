"""The per-agreement cache of e-conomic reads: how long entries live, and what a refusal drops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lb_connectors.economic.cache import CUSTOMER_SECONDS, PRODUCT_SECONDS, LedgerCache
from lb_connectors.economic.errors import EconomicValidationError
from lb_connectors.economic.models import Customer, Product


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _product(number: str) -> Product:
    return Product.model_validate(
        {"productNumber": number, "name": number, "productGroup": {"productGroupNumber": 1}}
    )


def _customer(number: int) -> Customer:
    return Customer.model_validate(
        {
            "customerNumber": number,
            "name": f"Customer {number}",
            "currency": "DKK",
            "customerGroup": {"customerGroupNumber": 1},
            "paymentTerms": {"paymentTermsNumber": 1},
            "vatZone": {"vatZoneNumber": 1},
        }
    )


def _refusal(errors: object) -> EconomicValidationError:
    return EconomicValidationError("refused", status=400, errors=errors)


def test_a_product_lives_for_its_time_then_is_read_again():
    clock = Clock()
    cache = LedgerCache(clock)
    cache.products.put("MUG", _product("MUG"))
    clock.now += PRODUCT_SECONDS - 1
    assert cache.products.get("MUG") is not None
    clock.now += 2
    assert cache.products.get("MUG") is None


def test_a_customer_read_elsewhere_lives_from_when_it_was_read():
    clock = Clock()
    cache = LedgerCache(clock)
    read_at = datetime.now(UTC) - timedelta(seconds=CUSTOMER_SECONDS - 5)
    cache.remember_customer(_customer(7), read_at)
    assert cache.customers.entry(7) == (_customer(7), read_at)
    clock.now += 6
    assert cache.customers.get(7) is None
    # Read too long ago: not kept at all.
    cache.remember_customer(_customer(8), datetime.now(UTC) - timedelta(hours=1))
    assert cache.customers.get(8) is None


def test_a_refusal_naming_a_line_drops_that_lines_product_only():
    cache = LedgerCache(Clock())
    for number in ("MUG", "SHIPPING"):
        cache.products.put(number, _product(number))
    refusal = _refusal(
        {
            "lines": [
                {
                    "arrayIndex": 1,
                    "product": {
                        "errors": [{"errorCode": "E06000", "message": "product does not exist."}]
                    },
                }
            ]
        }
    )
    # The path names the line; the document's lines say which product that was.
    dropped = cache.forget_named_in(refusal, products={0: "SHIPPING", 1: "MUG"})
    assert dropped == ["product MUG"]
    assert cache.products.get("MUG") is None
    assert cache.products.get("SHIPPING") is not None


def test_a_refusal_naming_the_customer_or_layout_drops_them():
    cache = LedgerCache(Clock())
    cache.remember_customer(_customer(7))
    cache.layouts.put("all", [])
    refusal = _refusal(
        {
            "customer": {"errors": [{"errorCode": "E1", "message": "customer is barred."}]},
            "layout": {"errors": [{"errorCode": "E2", "message": "layout does not exist."}]},
        }
    )
    assert cache.forget_named_in(refusal, customer=7) == ["customer 7", "layouts"]
    assert cache.customers.get(7) is None
    assert cache.layouts.get("all") is None
    assert cache.forget_named_in(refusal, customer=7) == []  # nothing left to drop


class Catalogue:
    """e-conomic's product list as the cache sees it: its first page, and reads by number."""

    def __init__(self, numbers: list[str], *, whole: bool = True) -> None:
        self.products = {n: _product(n) for n in numbers}
        self.first_page = list(numbers)
        self.whole = whole
        self.calls: list[str] = []

    async def product_page(self) -> tuple[list[Product], bool]:
        self.calls.append("GET /products")
        return [self.products[n] for n in self.first_page], self.whole

    async def get_product(self, number: str) -> Product | None:
        self.calls.append(f"GET /products/{number}")
        return self.products.get(number)


async def test_a_small_catalogue_is_read_whole_once_for_all_its_products():
    clock = Clock()
    cache = LedgerCache(clock)
    ledger = Catalogue(["MUG", "HAT", "SHIPPING"])
    client: Any = ledger
    assert (await cache.product(client, "MUG")) == _product("MUG")
    assert (await cache.product(client, "HAT")) == _product("HAT")
    assert ledger.calls == ["GET /products"]
    # One not in the list: it may have been created since, so it is read by number.
    assert (await cache.product(client, "GONE")) is None
    ledger.products["NEW"] = _product("NEW")
    assert (await cache.product(client, "NEW")) == _product("NEW")
    assert ledger.calls == ["GET /products", "GET /products/GONE", "GET /products/NEW"]
    # The list's time over: read whole again.
    clock.now += PRODUCT_SECONDS + 1
    await cache.product(client, "MUG")
    assert ledger.calls[-1] == "GET /products"


async def test_a_catalogue_larger_than_a_page_is_read_product_by_product():
    clock = Clock()
    cache = LedgerCache(clock)
    ledger = Catalogue(["MUG", "HAT"], whole=False)
    client: Any = ledger
    ledger.products["RARE"] = _product("RARE")  # beyond the first page
    assert (await cache.product(client, "MUG")) == _product("MUG")  # on the first page
    assert (await cache.product(client, "HAT")) == _product("HAT")  # kept from it
    assert (await cache.product(client, "RARE")) == _product("RARE")
    assert (await cache.product(client, "OTHER")) is None
    assert ledger.calls == ["GET /products", "GET /products/RARE", "GET /products/OTHER"]
