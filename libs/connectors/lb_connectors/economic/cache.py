"""A speed trick: reference data read from e-conomic once and kept for a while, per agreement.

Without it every order read its products, its customer and (sometimes) the layouts again: 10.8
calls per order in `bench/e2e.py`, where booking needs two (draft, book). With it a returning
buyer's order costs the two writes plus a share of a read (see README "Figures").

What is kept, for how long, and why that is safe (docs/invoicing-settings.md "Cached ledger
data" says the same for bookkeepers):

- products, `PRODUCT_SECONDS` (10 minutes): invoicing asks only whether a product exists and is
  not barred. A product deleted or barred meanwhile makes e-conomic refuse the draft with a
  validation error that names the line's product: `forget_named_in` drops it, and the retry
  reads it again, so a stale entry costs one refused call, never a wrong invoice. A product
  found missing is not kept: one created after a failure is seen on the replay. A product the
  cache lacks is read with the whole product list when that fits one page (1,000 products: one
  call for a small shop's whole catalogue, `whole_catalogue`, known for `PRODUCT_SECONDS`);
  a larger list is noted as such for as long, and its products are read one by one.
- customers, `CUSTOMER_SECONDS` (10 minutes): the name, VAT zone, payment terms, layout and
  address a draft falls back on. This is the window in which a bookkeeper's edit of a customer
  in e-conomic may not reach a draft yet; the total check (VAT zone) still stops a draft whose
  VAT differs from the shop's. A refusal naming the customer drops it.
- layouts, `LAYOUT_SECONDS` (1 hour): changed by hand, rarely; a refusal naming the layout
  drops them.
- accounting years, `ACCOUNTING_YEAR_SECONDS` (10 minutes): which year a payment's date falls
  in. Years are created and closed by hand, rarely; a voucher refused over its accounting year
  drops them, and the retry reads them again.

Nothing here is written back to e-conomic or used for a decision about money: totals and VAT
are e-conomic's own answer to the draft. The cache is per process (each replica keeps its own),
so it never needs coordination; its entries are bounded by `MAX_ENTRIES` per kind.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

from lb_common.errors import TransientError

from .accounting_years import AccountingYear
from .client import EconomicClient
from .errors import EconomicError
from .models import Customer, Layout, Product

PRODUCT_SECONDS = 600.0
CUSTOMER_SECONDS = 600.0
LAYOUT_SECONDS = 3600.0
ACCOUNTING_YEAR_SECONDS = 600.0
MAX_ENTRIES = 10_000


class CachedDataRefused(TransientError):
    """e-conomic refused a document over something we had from the cache: it was dropped, and
    the retry reads it again (a fresh read that is refused again is a permanent failure)."""


K = TypeVar("K")
V = TypeVar("V")


class _Expiring(Generic[K, V]):
    """Entries that expire `ttl` seconds after they were read; the oldest go past `limit`."""

    def __init__(self, ttl: float, clock: Callable[[], float], limit: int = MAX_ENTRIES) -> None:
        self._ttl, self._clock, self._limit = ttl, clock, limit
        self._items: OrderedDict[K, tuple[float, datetime, V]] = OrderedDict()

    def entry(self, key: K) -> tuple[V, datetime] | None:
        """The value and when it was read from e-conomic (UTC), while it lives."""
        entry = self._items.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._items[key]
            return None
        return entry[2], entry[1]

    def get(self, key: K) -> V | None:
        entry = self.entry(key)
        return None if entry is None else entry[0]

    def put(self, key: K, value: V, read_at: datetime | None = None) -> None:
        now = datetime.now(UTC)
        read_at = read_at or now
        expires = self._clock() + self._ttl - (now - read_at).total_seconds()
        if expires <= self._clock():
            return  # read too long ago to be kept at all
        self._items.pop(key, None)
        self._items[key] = (expires, read_at, value)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def forget(self, key: K) -> bool:
        return self._items.pop(key, None) is not None

    def clear(self) -> None:
        self._items.clear()


class LedgerCache:
    """One agreement's cached reads. Get it with `LedgerCache.of(client)`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.products: _Expiring[str, Product] = _Expiring(PRODUCT_SECONDS, clock)
        self.customers: _Expiring[int, Customer] = _Expiring(CUSTOMER_SECONDS, clock)
        self.layouts: _Expiring[str, list[Layout]] = _Expiring(LAYOUT_SECONDS, clock)
        self.accounting_years: _Expiring[str, list[AccountingYear]] = _Expiring(
            ACCOUNTING_YEAR_SECONDS, clock
        )
        # "products": whether the product list fits one page (read whole) or not.
        self.whole_catalogue: _Expiring[str, bool] = _Expiring(PRODUCT_SECONDS, clock)
        self.hits = 0  # reads answered here, for tests and the log

    @classmethod
    def of(cls, client: EconomicClient) -> LedgerCache:
        """The cache of the agreement `client` talks to: `LedgerDirectory` keeps one client per
        agreement, so one cache per client is one per agreement."""
        cache = _BY_CLIENT.get(client)
        if cache is None:
            cache = _BY_CLIENT[client] = cls()
        return cache

    async def product(self, client: EconomicClient, number: str) -> Product | None:
        cached = self.products.get(number)
        if cached is not None:
            self.hits += 1
            return cached
        if self.whole_catalogue.get("products") is None:
            products, whole = await self.read_catalogue_page(client)
            on_page = next((p for p in products if p.product_number == number), None)
            if whole or on_page is not None:  # read just now: one missing from it is missing
                return on_page
        # Not in a list read earlier (created since?), or the list is larger than a page.
        product = await client.get_product(number)
        if product is not None:
            self.products.put(number, product)
        return product

    async def read_catalogue_page(self, client: EconomicClient) -> tuple[list[Product], bool]:
        """The product list's first page, read now, every product on it kept; and whether it was
        the whole list."""
        products, whole = await client.product_page()
        self.whole_catalogue.put("products", whole)
        for product in products:
            self.products.put(product.product_number, product)
        return products, whole

    async def customer(self, client: EconomicClient, number: int) -> Customer | None:
        cached = self.customers.get(number)
        if cached is not None:
            self.hits += 1
            return cached
        customer = await client.get_customer(number)
        if customer is not None:
            self.customers.put(number, customer)
        return customer

    def remember_customer(self, customer: Customer, read_at: datetime | None = None) -> None:
        """A customer read or written by other means (a search, a create, another service that
        read it at `read_at`): kept until `CUSTOMER_SECONDS` after it was read."""
        self.customers.put(customer.customer_number, customer, read_at)

    async def layout_list(self, client: EconomicClient) -> list[Layout]:
        cached = self.layouts.get("all")
        if cached is not None:
            self.hits += 1
            return cached
        layouts = await client.list_layouts()
        self.layouts.put("all", layouts)
        return layouts

    async def accounting_year_list(self, client: EconomicClient) -> list[AccountingYear]:
        cached = self.accounting_years.get("all")
        if cached is not None:
            self.hits += 1
            return cached
        years = await client.list_accounting_years()
        self.accounting_years.put("all", years)
        return years

    def forget_named_in(
        self,
        error: EconomicError,
        *,
        products: dict[int, str] | None = None,
        customer: int | None = None,
    ) -> list[str]:
        """Drop what a refusal names (a 404 or a validation error); returns what was dropped,
        as "product X" / "customer N" / "layouts", for the log and the retry decision.

        `products` maps the refused document's line index to its product number, for errors
        that name a line (`lines[2].product`) rather than the product itself; `customer` is the
        document's customer, for errors that name the field without its value.
        """
        dropped: list[str] = []
        for field in error.field_errors:
            path = field.path
            if path.startswith("lines[") and ".product" in path:
                index = int(path[len("lines[") : path.index("]")])
                number = (products or {}).get(index)
                value = field.value if isinstance(field.value, str) else None
                for candidate in {n for n in (number, value) if n is not None}:
                    if self.products.forget(candidate):
                        dropped.append(f"product {candidate}")
            elif path == "customer" or path.startswith("customer."):
                numbers = {*self._customer_numbers(field.value), customer}
                for number_ in sorted(n for n in numbers if n is not None):
                    if self.customers.forget(number_):
                        dropped.append(f"customer {number_}")
            elif path == "layout" or path.startswith("layout."):
                if self.layouts.forget("all"):
                    dropped.append("layouts")
        return dropped

    @staticmethod
    def _customer_numbers(value: object) -> list[int]:
        if isinstance(value, int):
            return [value]
        if isinstance(value, str) and value.isdigit():
            return [int(value)]
        return []


_BY_CLIENT: weakref.WeakKeyDictionary[EconomicClient, LedgerCache] = weakref.WeakKeyDictionary()
