"""A speed trick: the ledger's stock after a booking, worked out from the last reading instead of
read again, for a bounded time (`LEDGERBRIDGE_INVENTORY_STOCK_READ_SECONDS`, 60 s by default).

Reading the products of every booked invoice cost one e-conomic call per order on top of the
draft and the booking: 3 calls per order for a returning buyer in `bench/e2e.py --rate 1`,
against a goal of 2.2. Booking an invoice takes exactly its lines' quantities off each stocked
product's `inStock` (a credit note puts them back), and `invoice.booked` carries those lines
(`BookedLine`); so inventory reads a product's stock at most once per bound and takes each
later booking's units off that reading.

Why the shop is not oversold:
- Our own bookings are counted exactly: the figure and the units taken off it are kept in
  inventory's database (`stock_levels`), changed under the connection's push lock (one writer
  across replicas), and each document's units are taken off in the same transaction as its
  inbox row, so a redelivered `invoice.booked` takes nothing off twice.
- A booking the reading already counted is not taken off again: a document received before
  the read was sent is in it by construction (the ledger answered its booking before); a later
  one is counted in the reading only when it was booked more than `CLOCK_MARGIN` before the
  reading was taken (services' clocks differ by less, NTP). Where unsure, the units are taken
  off: the shop is shown too little for a while, never too much.
- What ledgerbridge does not book itself (a purchase, a bookkeeper's own invoice, an e-conomic
  sales order, another connection's sales on the same agreement) is seen at the product's next
  read: at its first sale after the bound, or at the full sync (every 15 minutes by default),
  as it was for every product not sold meanwhile before this trick. The bound is that window
  for a product that sells; set it to 0 to read after every booking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from lb_common.events import BookedLine

# How much earlier than a reading a booking must be to count as in it (clock skew between the
# invoicing and inventory hosts). A wrong "not in it" shows the shop too little, never too much.
CLOCK_MARGIN = timedelta(seconds=1)


@dataclass(frozen=True)
class Reading:
    """What inventory knows of a product's stock: as read at `read_at`, less the units booked
    since. `available` None: the product keeps no stock (or was not found)."""

    available: Decimal | None
    in_stock: Decimal | None
    read_at: datetime

    def less(self, units: Decimal) -> Reading:
        """After a document took `units` off (negative: put back)."""
        return Reading(
            None if self.available is None else self.available - units,
            None if self.in_stock is None else self.in_stock - units,
            self.read_at,
        )


def to_read(
    products: Iterable[str], known: dict[str, Reading], now: datetime, fresh_for: timedelta
) -> set[str]:
    """The products whose stock must be read from the ledger: never read, or read longer than
    `fresh_for` ago."""
    return {p for p in products if p not in known or known[p].read_at <= now - fresh_for}


def units_taken(lines: Iterable[BookedLine], document: str) -> dict[str, Decimal]:
    """The units a booked document took off each product's stock in the ledger: an invoice
    ("sale") takes its quantities, a credit note puts them back."""
    sign = Decimal(1) if document == "sale" else Decimal(-1)
    taken: dict[str, Decimal] = {}
    for line in lines:
        taken[line.product_number] = taken.get(line.product_number, Decimal(0)) + (
            sign * line.quantity
        )
    return taken


def in_reading(booked_at: datetime, read_at: datetime) -> bool:
    """Whether a document booked (its `invoice.booked` made) at `booked_at` is surely counted in
    a reading taken at `read_at`."""
    return booked_at < read_at - CLOCK_MARGIN
