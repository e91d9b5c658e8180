"""The orders a chaos run posts, and what the ledger must hold for each afterwards.

Every order is a Danish shop's Shopify order (tests/platforms/factories.py) delivered as a shop
would under bad conditions: created (pending) and paid as two versions, on a share of orders a
refund (refunds/create, sometimes also inside an orders/updated body) or a cancellation; then
delivery chaos on top: the paid version before the created one, Shopify's own retries (same
webhook id), and stale retries (an older version with a fresh webhook id, after the newer one).

Prices are multiples of 1.25 DKK, so with 25 % VAT included every net price is whole cents and
the ledger's totals must equal the shop's exactly.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.platforms.factories import fixture, shopify_order

SHOP = "chaos-shop.myshopify.com"
SECRET = "demo-secret"  # the demo connection's webhook secret (LEDGERBRIDGE_DEMO_SHOPIFY_SECRET)
# (sku, title, unit price incl. 25 % VAT): the two stocked products the sandbox seeds.
PRODUCTS = (
    ("TSHIRT-RED-M", "T-shirt red M", Decimal("125.00")),
    ("MUG-BLACK", "Mug black", Decimal("62.50")),
)
SHIPPING = Decimal("37.50")
VAT_SHARE = Decimal("0.2")  # of a price incl. 25 % VAT
REFUND_FIXTURE = "shopify_refunds_create_VND.json"


@dataclass(frozen=True)
class Delivery:
    """One webhook as the shop sends it; a retry repeats `webhook_id` and the bytes."""

    order_index: int
    topic: str
    body: bytes
    webhook_id: str
    event_id: str
    at: float  # seconds after the start of the run
    kind: str  # first, duplicate, stale (for the report)


@dataclass
class Expected:
    """What the shop did with one order, in the terms the ledger is checked in."""

    index: int
    order_id: int
    total: Decimal
    refunds: dict[str, Decimal] = field(default_factory=dict)  # refund id -> amount incl. VAT
    cancelled: bool = False
    paid_before_created: bool = False
    duplicates: int = 0
    stale: int = 0

    def order_key(self, shop: str = SHOP) -> str:
        return f"shopify:{shop}:{self.order_id}"


@dataclass(frozen=True)
class Share:
    """How often each kind of trouble happens (probability per order)."""

    refund: float = 0.15
    cancel: float = 0.10
    paid_first: float = 0.20
    duplicate: float = 0.25
    stale: float = 0.20


def build_run(
    count: int, *, seed: int, duration: float, share: Share = Share()
) -> tuple[list[Expected], list[Delivery]]:
    """`count` orders with their deliveries spread over `duration` seconds, sorted by time."""
    rng = random.Random(seed)
    base_id = 7_000_000_000_000 + seed % 100_000 * 100_000  # 13 digits, like Shopify's
    emails = [f"buyer{n}@chaos.example" for n in range(max(1, count // 3))]
    expected: list[Expected] = []
    deliveries: list[Delivery] = []
    for index in range(count):
        start = rng.uniform(0, duration * 0.9)
        exp, mine = _one_order(rng, index, base_id + index, rng.choice(emails), start, share)
        expected.append(exp)
        deliveries += mine
    deliveries.sort(key=lambda d: d.at)
    return expected, deliveries


def _one_order(
    rng: random.Random, index: int, order_id: int, email: str, start: float, share: Share
) -> tuple[Expected, list[Delivery]]:
    picks = rng.sample(PRODUCTS, rng.randint(1, len(PRODUCTS)))
    lines = [
        {"sku": sku, "title": title, "quantity": rng.randint(1, 3), "price": str(price)}
        for sku, title, price in picks
    ]
    created = f"2025-03-01T10:{index // 60 % 60:02d}:{index % 60:02d}+01:00"
    body = shopify_order(
        id=order_id,
        lines=lines,
        shipping=str(SHIPPING) if rng.random() < 0.5 else None,
        email=email,
        financial_status="pending",
        created_at=created,
        updated_at=created,
        name=f"#C{index + 1}",
        admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
        order_number=100000 + index,
    )
    exp = Expected(index=index, order_id=order_id, total=Decimal(body["total_price"]))
    versions: list[tuple[str, dict[str, Any]]] = [("orders/create", body)]
    paid = _version(body, 5, financial_status="paid")
    versions.append(("orders/paid", paid))

    refund: dict[str, Any] | None = None
    if rng.random() < share.refund:
        refund = _refund_body(paid, refund_id=order_id * 10 + 1)
        exp.refunds[str(refund["id"])] = _refund_amount(paid)
        if rng.random() < 0.5:  # Shopify also sends the order with the refund inside it
            versions.append(
                (
                    "orders/updated",
                    _version(paid, 60, financial_status="partially_refunded", refunds=[refund]),
                )
            )
    if rng.random() < share.cancel:
        exp.cancelled = True
        latest = versions[-1][1]
        versions.append(
            (
                "orders/cancelled",
                _version(
                    latest, 120, financial_status="refunded",
                    cancelled_at="2025-03-01T12:00:00+01:00", cancel_reason="customer",
                ),
            )
        )  # fmt: skip

    sends: list[tuple[str, bytes]] = [(topic, _shopify_bytes(v)) for topic, v in versions]
    if refund is not None:
        sends.insert(2, ("refunds/create", _shopify_bytes(refund)))
    if rng.random() < share.paid_first:
        sends[0], sends[1] = sends[1], sends[0]
        exp.paid_before_created = True

    at = start
    mine: list[Delivery] = []
    for topic, raw in sends:
        mine.append(_delivery(index, topic, raw, at, "first"))
        at += rng.uniform(0.05, 1.5)
    if rng.random() < share.duplicate:  # Shopify's retry: same webhook id, same bytes
        original = rng.choice(mine)
        exp.duplicates += 1
        mine.append(
            Delivery(
                index, original.topic, original.body, original.webhook_id, original.event_id,
                original.at + rng.uniform(0.0, 3.0), "duplicate",
            )
        )  # fmt: skip
    if rng.random() < share.stale:  # an older version arrives last, as a new delivery
        topic, raw = sends[0] if not exp.paid_before_created else sends[1]
        exp.stale += 1
        mine.append(_delivery(index, topic, raw, at + rng.uniform(0.5, 3.0), "stale"))
    return exp, mine


def _delivery(index: int, topic: str, raw: bytes, at: float, kind: str) -> Delivery:
    return Delivery(index, topic, raw, str(uuid.uuid4()), str(uuid.uuid4()), at, kind)


def _version(body: dict[str, Any], seconds: int, **changes: Any) -> dict[str, Any]:
    """A later version of the order: `updated_at` moves on by `seconds`."""
    newer = copy.deepcopy(body)
    newer["updated_at"] = _later(body["created_at"], seconds)
    newer.update(changes)
    return newer


def _later(stamp: str, seconds: int) -> str:
    return (datetime.fromisoformat(stamp) + timedelta(seconds=seconds)).isoformat()


def _refund_amount(order: dict[str, Any]) -> Decimal:
    return Decimal(order["line_items"][0]["price"])


def _refund_body(order: dict[str, Any], *, refund_id: int) -> dict[str, Any]:
    """One unit of the order's first line, refunded with its VAT: the public refund fixture
    with this order's ids, currency and amounts."""
    refund: dict[str, Any] = json.loads(fixture(REFUND_FIXTURE))
    item = order["line_items"][0]
    gross = Decimal(item["price"])
    tax = (gross * VAT_SHARE).quantize(Decimal("0.01"))
    currency = order["currency"]
    when = _later(order["created_at"], 30)
    refund.update(
        id=refund_id, order_id=order["id"], created_at=when, processed_at=when,
        admin_graphql_api_id=f"gid://shopify/Refund/{refund_id}",
    )  # fmt: skip
    _set_currency(refund, currency)
    [rli] = refund["refund_line_items"]
    rli.update(
        id=refund_id * 10, line_item_id=item["id"], quantity=1, subtotal=gross, total_tax=tax,
        restock_type="return",
    )  # fmt: skip
    rli["subtotal_set"] = _bag(gross, currency)
    rli["total_tax_set"] = _bag(tax, currency)
    line = rli["line_item"]
    line.update(
        id=item["id"], sku=item["sku"], title=item["title"], name=item["title"],
        price=item["price"], quantity=item["quantity"], taxable=True,
    )  # fmt: skip
    line["price_set"] = _bag(gross, currency)
    line["admin_graphql_api_id"] = f"gid://shopify/LineItem/{item['id']}"
    line["tax_lines"][0].update(
        title="Moms", rate=0.25, price=str(tax), price_set=_bag(tax, currency)
    )
    [transaction] = refund["transactions"]
    transaction.update(
        id=refund_id * 10 + 1, order_id=order["id"], amount=str(gross), currency=currency,
        gateway="shopify_payments", manual_payment_gateway=False, created_at=when,
        processed_at=when,
    )  # fmt: skip
    return refund


def _bag(amount: Decimal, currency: str) -> dict[str, Any]:
    money = {"amount": str(amount), "currency_code": currency}
    return {"shop_money": dict(money), "presentment_money": dict(money)}


def _set_currency(node: Any, currency: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("currency_code", "currency") and isinstance(value, str):
                node[key] = currency
            else:
                _set_currency(value, currency)
    elif isinstance(node, list):
        for item in node:
            _set_currency(item, currency)


def _shopify_bytes(body: dict[str, Any]) -> bytes:
    """Bytes as Shopify sends them (compact, "/" and "&" escaped, as factories.shopify_json).
    A refund's `subtotal` / `total_tax` are JSON numbers: written from Decimal text, never
    through float."""

    def default(value: object) -> str:
        if isinstance(value, Decimal):
            return f"@@{value}@@"
        raise TypeError(type(value).__name__)

    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=default)
    text = text.replace('"@@', "").replace('@@"', "")
    return text.replace("/", "\\/").replace("&", "\\u0026").encode()
