"""Builders for realistic webhook bodies and signed headers, for tests anywhere in the repo.

Bodies are plain dicts shaped like the platforms' REST resources, with totals that add up (so an
adapter's own consistency checks pass). Turn them into the bytes a platform would send with
`shopify_json()` / `woocommerce_json()`, which also mimic each platform's escaping of "/" and
"&", so tests cannot accidentally pass by re-serialising.

Defaults describe a Danish shop: DKK, 25 % VAT, prices including VAT (Shopify) and a 2-decimal
currency. Ids start at Shopify's own sample order id 820982911946154508 (> 2**53) and count up,
so every built order has a fresh id unless you pass `id=`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from lb_connectors.shopify_admin import API_VERSION

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "public"
SHOPIFY_SHOP = "demo-shop.myshopify.com"
WOOCOMMERCE_SOURCE = "https://demo-shop.example/"

_ids = itertools.count(820982911946154508)
_CENT = Decimal("0.01")


def fixture(name: str) -> bytes:
    """Raw bytes of a file in tests/fixtures/public (raw: signatures depend on every byte)."""
    return (FIXTURES / name).read_bytes()


def _next_id() -> int:
    return next(_ids)


def _money(value: Decimal) -> str:
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _tax(amount: Decimal, rate: Decimal | None, included: bool) -> Decimal:
    if not rate:
        return Decimal("0.00")
    tax = amount * rate / (1 + rate) if included else amount * rate
    return tax.quantize(_CENT, rounding=ROUND_HALF_UP)


def _bag(amount: str, currency: str) -> dict[str, Any]:
    money = {"amount": amount, "currency_code": currency}
    return {"shop_money": dict(money), "presentment_money": dict(money)}


def _attributes(value: Mapping[str, str] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(value, Mapping):
        return [{"name": k, "value": v} for k, v in value.items()]
    return [dict(item) for item in value]


# --- Shopify ------------------------------------------------------------------------------


def shopify_line_item(
    *,
    sku: str | None = "SKU-1",
    title: str = "Widget",
    quantity: int = 1,
    price: str = "100.00",
    discount: str = "0.00",
    tax_rate: str | None = "0.25",
    taxes_included: bool = True,
    currency: str = "DKK",
    id: int | None = None,
    product_id: int | None = 7513594,
    variant_id: int | None = 34505432,
    gift_card: bool = False,
) -> dict[str, Any]:
    """One `line_items[]` entry; tax is computed from price × quantity − discount."""
    rate = Decimal(tax_rate) if tax_rate is not None else None
    net = Decimal(price) * quantity - Decimal(discount)
    tax = _tax(net, rate, taxes_included)
    allocations = (
        [
            {
                "amount": discount,
                "amount_set": _bag(discount, currency),
                "discount_application_index": 0,
            }
        ]
        if Decimal(discount)
        else []
    )
    tax_lines = (
        [
            {
                "title": "Moms",
                "price": _money(tax),
                # Shopify sends the rate as a JSON number (0.25); float is what json.dumps writes.
                "rate": float(rate),
                "channel_liable": False,
                "price_set": _bag(_money(tax), currency),
            }
        ]
        if rate is not None
        else []
    )
    return {
        "id": id if id is not None else _next_id(),
        "admin_graphql_api_id": "gid://shopify/LineItem/0",
        "name": title,
        "title": title,
        "sku": sku if sku is not None else "",
        "quantity": quantity,
        "current_quantity": quantity,
        "price": price,
        "price_set": _bag(price, currency),
        "total_discount": "0.00",  # Shopify leaves this at 0; allocations carry the discount
        "total_discount_set": _bag("0.00", currency),
        "discount_allocations": allocations,
        "tax_lines": tax_lines,
        "taxable": rate is not None,
        "gift_card": gift_card,
        "product_id": product_id,
        "variant_id": variant_id,
        "vendor": "Demo",
        "requires_shipping": True,
        "fulfillment_status": None,
        "properties": [],
        "duties": [],
    }


def shopify_order(
    *,
    lines: Sequence[Mapping[str, Any]] = ({"sku": "SKU-1", "quantity": 1, "price": "100.00"},),
    shipping: str | None = None,
    taxes_included: bool = True,
    tax_rate: str | None = "0.25",
    currency: str = "DKK",
    email: str | None = "buyer@example.com",
    financial_status: str = "paid",
    updated_at: str = "2025-03-01T10:00:05+01:00",
    created_at: str = "2025-03-01T10:00:00+01:00",
    note_attributes: Mapping[str, str] | Sequence[Mapping[str, Any]] = (),
    company: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A Shopify order body (REST Order resource as sent by orders/* webhooks).

    `lines` holds keyword arguments for shopify_line_item (sku, title, quantity, price, discount,
    tax_rate, id, ...); `shipping` is the price of one shipping line. Totals are computed from
    them. `note_attributes` may be a dict ({"CVR": "12345678"}). `overrides` replace top-level
    keys last (e.g. customer=None, billing_address=None, id=..., cancelled_at=...).
    """
    order_id = _next_id()
    items = [
        shopify_line_item(
            **{"tax_rate": tax_rate, "taxes_included": taxes_included, "currency": currency, **spec}
        )
        for spec in lines
    ]
    shipping_lines = []
    if shipping is not None:
        ship_tax = _tax(Decimal(shipping), Decimal(tax_rate) if tax_rate else None, taxes_included)
        shipping_lines.append(
            {
                "id": _next_id(),
                "title": "Standard",
                "code": "standard",
                "source": "shopify",
                "price": shipping,
                "price_set": _bag(shipping, currency),
                "discounted_price": shipping,
                "is_removed": False,
                "discount_allocations": [],
                "tax_lines": (
                    [
                        {
                            "title": "Moms",
                            "price": _money(ship_tax),
                            "rate": float(tax_rate),
                            "price_set": _bag(_money(ship_tax), currency),
                        }
                    ]
                    if tax_rate
                    else []
                ),
            }
        )
    line_total = sum((Decimal(i["price"]) * i["quantity"] for i in items), Decimal(0))
    discounts = sum(
        (Decimal(a["amount"]) for i in items for a in i["discount_allocations"]), Decimal(0)
    )
    tax = sum(
        (Decimal(t["price"]) for x in [*items, *shipping_lines] for t in x["tax_lines"]),
        Decimal(0),
    )
    ship = Decimal(shipping) if shipping is not None else Decimal(0)
    grand = line_total - discounts + ship + (Decimal(0) if taxes_included else tax)
    address = {
        "first_name": "Karen",
        "last_name": "Jensen",
        "name": "Karen Jensen",
        "company": company,
        "address1": "Vestergade 1",
        "address2": None,
        "city": "København K",
        "zip": "1456",
        "province": None,
        "province_code": None,
        "country": "Denmark",
        "country_code": "DK",
        "phone": "+4512345678",
    }
    body: dict[str, Any] = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{1000 + order_id % 100000}",
        "order_number": 1000 + order_id % 100000,
        "email": email,
        "contact_email": email,
        "phone": None,
        "currency": currency,
        "presentment_currency": currency,
        "created_at": created_at,
        "processed_at": created_at,
        "updated_at": updated_at,
        "cancelled_at": None,
        "cancel_reason": None,
        "closed_at": None,
        "financial_status": financial_status,
        "fulfillment_status": None,
        "test": False,
        "taxes_included": taxes_included,
        "tax_exempt": False,
        "payment_gateway_names": ["shopify_payments"],
        "source_name": "web",
        "note": None,
        "note_attributes": _attributes(note_attributes),
        "tags": "",
        "total_line_items_price": _money(line_total),
        "subtotal_price": _money(line_total - discounts),
        "total_discounts": _money(discounts),
        "total_tax": _money(tax),
        "total_price": _money(grand),
        "total_discounts_set": _bag(_money(discounts), currency),
        "total_tax_set": _bag(_money(tax), currency),
        "total_price_set": _bag(_money(grand), currency),
        "total_shipping_price_set": _bag(_money(ship), currency),
        "tax_lines": [],
        "discount_codes": [],
        "discount_applications": [],
        "customer": {
            "id": _next_id(),
            "email": email,
            "first_name": "Karen",
            "last_name": "Jensen",
            "phone": "+4512345678",
            "default_address": {**address, "id": _next_id(), "default": True},
        },
        "billing_address": dict(address),
        "shipping_address": dict(address),
        "line_items": items,
        "shipping_lines": shipping_lines,
        "refunds": [],
        "fulfillments": [],
    }
    body.update(overrides)
    return body


def with_presentment(body: dict[str, Any], currency: str, rate: str) -> dict[str, Any]:
    """Make the buyer pay in `currency`: every `*_set.presentment_money` becomes the shop amount
    × `rate` (rounded to cents), as when a Danish shop sells to a buyer paying in EUR."""

    def convert(node: Any) -> None:
        if isinstance(node, dict):
            if "shop_money" in node and "presentment_money" in node:
                amount = Decimal(node["shop_money"]["amount"]) * Decimal(rate)
                node["presentment_money"] = {"amount": _money(amount), "currency_code": currency}
            for value in node.values():
                convert(value)
        elif isinstance(node, list):
            for item in node:
                convert(item)

    convert(body)
    body["presentment_currency"] = currency
    return body


def shopify_json(body: Mapping[str, Any]) -> bytes:
    """Bytes as Shopify sends them: compact, with "/" and "&" escaped (\\/, \\u0026)."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return text.replace("/", "\\/").replace("&", "\\u0026").encode()


def sign_shopify(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(
    topic: str,
    body: bytes,
    secret: str,
    shop: str = SHOPIFY_SHOP,
    webhook_id: str | None = None,
    event_id: str | None = None,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_shopify(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": API_VERSION,  # the app's webhook version set to the pinned one
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


# --- WooCommerce --------------------------------------------------------------------------


def woocommerce_line_item(
    *,
    sku: str | None = "SKU-1",
    name: str = "Widget",
    quantity: int = 1,
    price: str = "100.00",
    discount: str = "0.00",
    tax_rate: str | None = "0.25",
    id: int | None = None,
    product_id: int = 93,
    variation_id: int = 0,
    rate_id: int = 1,
) -> dict[str, Any]:
    """One `line_items[]` entry. `price` is the ex-VAT unit price (WooCommerce stores ex-VAT)."""
    rate = Decimal(tax_rate) if tax_rate is not None else None
    subtotal = Decimal(price) * quantity
    line_total = subtotal - Decimal(discount)
    subtotal_tax, total_tax = _tax(subtotal, rate, False), _tax(line_total, rate, False)
    unit = line_total / quantity
    return {
        "id": id if id is not None else _next_id() % 100000,
        "name": name,
        "product_id": product_id,
        "variation_id": variation_id,
        "quantity": quantity,
        "tax_class": "",
        "subtotal": _money(subtotal),
        "subtotal_tax": _money(subtotal_tax),
        "total": _money(line_total),
        "total_tax": _money(total_tax),
        "taxes": (
            [{"id": rate_id, "total": _money(total_tax), "subtotal": _money(subtotal_tax)}]
            if rate is not None
            else []
        ),
        "meta_data": [],
        "sku": sku if sku is not None else "",
        # A JSON number, as PHP computes it (total / quantity).
        "price": int(unit) if unit == unit.to_integral_value() else float(unit),
    }


def woocommerce_order(
    *,
    lines: Sequence[Mapping[str, Any]] = ({"sku": "SKU-1", "quantity": 1, "price": "100.00"},),
    shipping: str | None = "39.00",
    tax_rate: str | None = "0.25",
    currency: str = "DKK",
    email: str | None = "buyer@example.com",
    status: str = "processing",
    date_modified_gmt: str = "2025-03-01T09:00:05",
    meta_data: Mapping[str, Any] | Sequence[Mapping[str, Any]] = (),
    refunds: Sequence[Mapping[str, Any]] = (),
    company: str = "",
    **overrides: Any,
) -> dict[str, Any]:
    """A WooCommerce order body (REST v3 order, as sent by order.* webhooks).

    `lines` holds keyword arguments for woocommerce_line_item; `shipping` is the ex-VAT price of
    one shipping line (None for none). `meta_data` may be a dict ({"_billing_cvr": "12345678"}).
    `refunds` entries look like {"id": 5, "reason": "", "total": "-5.00"}. `overrides` last.
    """
    order_id = _next_id() % 100000
    items = [woocommerce_line_item(**{"tax_rate": tax_rate, **spec}) for spec in lines]
    rate = Decimal(tax_rate) if tax_rate is not None else None
    ship = Decimal(shipping) if shipping is not None else Decimal(0)
    ship_tax = _tax(ship, rate, False)
    shipping_lines = (
        [
            {
                "id": _next_id() % 100000,
                "method_title": "PostNord",
                "method_id": "flat_rate",
                "total": _money(ship),
                "total_tax": _money(ship_tax),
                "taxes": [{"id": 1, "total": _money(ship_tax), "subtotal": ""}] if rate else [],
                "meta_data": [],
            }
        ]
        if shipping is not None
        else []
    )
    subtotal = sum((Decimal(i["subtotal"]) for i in items), Decimal(0))
    line_total = sum((Decimal(i["total"]) for i in items), Decimal(0))
    cart_tax = sum((Decimal(i["total_tax"]) for i in items), Decimal(0))
    discount_tax = sum((Decimal(i["subtotal_tax"]) for i in items), Decimal(0)) - cart_tax
    total_tax = cart_tax + ship_tax
    if isinstance(meta_data, Mapping):
        meta = [{"id": n, "key": k, "value": v} for n, (k, v) in enumerate(meta_data.items(), 1)]
    else:
        meta = [dict(m) for m in meta_data]
    address = {
        "first_name": "Karen",
        "last_name": "Jensen",
        "company": company,
        "address_1": "Vestergade 1",
        "address_2": "",
        "city": "København K",
        "state": "",
        "postcode": "1456",
        "country": "DK",
    }
    created = "2025-03-01T09:00:00"
    body: dict[str, Any] = {
        "id": order_id,
        "parent_id": 0,
        "number": str(order_id),
        "order_key": f"wc_order_{order_id}",
        "created_via": "checkout",
        "version": "9.6.0",
        "status": status,
        "currency": currency,
        "date_created": created,
        "date_created_gmt": created,
        "date_modified": date_modified_gmt,
        "date_modified_gmt": date_modified_gmt,
        "discount_total": _money(subtotal - line_total),
        "discount_tax": _money(discount_tax),
        "shipping_total": _money(ship),
        "shipping_tax": _money(ship_tax),
        "cart_tax": _money(cart_tax),
        "total": _money(line_total + ship + total_tax),
        "total_tax": _money(total_tax),
        "prices_include_tax": False,
        "customer_id": 0,
        "customer_note": "",
        "billing": {**address, "email": email or "", "phone": "+4512345678"},
        "shipping": {**address, "phone": ""},
        "payment_method": "stripe",
        "payment_method_title": "Kort",
        "transaction_id": "",
        "date_paid": created,
        "date_paid_gmt": created,
        "date_completed": None,
        "date_completed_gmt": None,
        "meta_data": meta,
        "line_items": items,
        "tax_lines": (
            [
                {
                    "id": _next_id() % 100000,
                    "rate_code": "DK-MOMS-1",
                    "rate_id": 1,
                    "label": "Moms",
                    "compound": False,
                    "tax_total": _money(cart_tax),
                    "shipping_tax_total": _money(ship_tax),
                    "rate_percent": float(rate * 100),
                    "meta_data": [],
                }
            ]
            if rate is not None
            else []
        ),
        "shipping_lines": shipping_lines,
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [dict(r) for r in refunds],
    }
    body.update(overrides)
    return body


def woocommerce_json(body: Mapping[str, Any]) -> bytes:
    """Bytes as wp_json_encode writes them: compact, "/" escaped, non-ASCII as \\uXXXX."""
    return json.dumps(body, separators=(",", ":")).replace("/", "\\/").encode()


def sign_woocommerce(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def woocommerce_headers(
    topic: str,
    body: bytes,
    secret: str,
    source: str = WOOCOMMERCE_SOURCE,
    webhook_id: int = 12,
    delivery_id: str | None = None,
) -> dict[str, str]:
    resource, _, event = topic.partition(".")
    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.6.0 Hookshot (WordPress/6.7.1)",
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign_woocommerce(body, secret),
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": delivery_id or uuid.uuid4().hex,
    }


def woocommerce_ping(webhook_id: int = 12) -> tuple[dict[str, str], bytes]:
    """The unsigned form post WooCommerce sends when a webhook is saved."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "WooCommerce/9.6.0 Hookshot (WordPress/6.7.1)",
    }
    return headers, f"webhook_id={webhook_id}".encode()
