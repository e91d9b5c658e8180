"""Headers, HMAC verification, topic classification, ping detection and the registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lb_connectors.platforms import (
    MissingHeaderError,
    PlatformAdapter,
    TopicKind,
    UnknownPlatformError,
    get_adapter,
    shopify,
    woocommerce,
)

from .factories import (
    fixture,
    shopify_headers,
    shopify_json,
    shopify_order,
    sign_woocommerce,
    woocommerce_headers,
    woocommerce_json,
    woocommerce_order,
    woocommerce_ping,
)

SECRET = "shpss_current"
OLD_SECRET = "shpss_previous"
HKD = fixture("shopify_orders_create_discounts_HKD.json")


# --- HMAC -----------------------------------------------------------------------------------


def test_shopify_valid_signature() -> None:
    headers = shopify_headers("orders/create", HKD, SECRET)
    assert shopify.verify(headers, HKD, [SECRET])


def test_shopify_forged_body_or_wrong_secret() -> None:
    headers = shopify_headers("orders/create", HKD, SECRET)
    assert not shopify.verify(headers, HKD.replace(b"394.00", b"1.00"), [SECRET])
    assert not shopify.verify(headers, HKD, ["someone-elses-secret"])
    headers["X-Shopify-Hmac-Sha256"] = "bm90IGEgc2lnbmF0dXJl"
    assert not shopify.verify(headers, HKD, [SECRET])


def test_rotation_accepts_old_and_new_secret() -> None:
    old = shopify_headers("orders/create", HKD, OLD_SECRET)
    new = shopify_headers("orders/create", HKD, SECRET)
    assert shopify.verify(old, HKD, [SECRET, OLD_SECRET])
    assert shopify.verify(new, HKD, [SECRET, OLD_SECRET])
    assert not shopify.verify(old, HKD, [SECRET])
    assert not shopify.verify(new, HKD, [])


def test_missing_or_empty_signature_header_is_false() -> None:
    headers = shopify_headers("orders/create", HKD, SECRET)
    del headers["X-Shopify-Hmac-Sha256"]
    assert shopify.verify(headers, HKD, [SECRET]) is False
    headers["X-Shopify-Hmac-Sha256"] = ""
    assert shopify.verify(headers, HKD, [SECRET]) is False


@pytest.mark.parametrize("transform", [str.lower, str.upper, lambda name: name])
def test_header_names_are_case_insensitive(transform) -> None:
    headers = {transform(k): v for k, v in shopify_headers("orders/paid", HKD, SECRET).items()}
    assert shopify.verify(headers, HKD, [SECRET])
    assert shopify.delivery(headers).topic == "orders/paid"


def test_reserialised_body_fails_verification() -> None:
    """Signatures cover the raw bytes; json.dumps(json.loads(raw)) is a different message."""
    headers = shopify_headers("orders/create", HKD, SECRET)
    assert not shopify.verify(headers, json.dumps(json.loads(HKD)).encode(), [SECRET])
    # Shopify escapes "/" as "\/": even a compact re-encoding does not reproduce the bytes.
    raw = shopify_json(shopify_order())
    headers = shopify_headers("orders/create", raw, SECRET)
    compact = json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False).encode()
    assert compact != raw
    assert not shopify.verify(headers, compact, [SECRET])


def test_woocommerce_signature_and_rotation() -> None:
    raw = woocommerce_json(woocommerce_order())
    headers = woocommerce_headers("order.created", raw, "wc-new")
    assert woocommerce.verify(headers, raw, ["wc-old", "wc-new"])
    assert not woocommerce.verify(headers, raw + b" ", ["wc-new"])
    assert not woocommerce.verify(
        {k.lower(): v for k, v in headers.items() if "Signature" not in k}, raw, ["wc-new"]
    )


def test_woocommerce_secret_with_html_entities() -> None:
    """WooCommerce signs with the entity-decoded secret; a copied "&amp;" form still verifies."""
    raw = woocommerce_json(woocommerce_order())
    headers = {"X-WC-Webhook-Signature": sign_woocommerce(raw, "a&b'c")}
    assert woocommerce.verify(headers, raw, ["a&amp;b&#039;c"])
    assert woocommerce.verify(headers, raw, ["a&b'c"])


# --- delivery headers -------------------------------------------------------------------------


def test_shopify_delivery_info() -> None:
    headers = shopify_headers(
        "orders/create",
        HKD,
        SECRET,
        shop="Demo-Shop.myshopify.com",
        webhook_id="w-1",
        event_id="e-1",
    )
    headers["X-Shopify-Triggered-At"] = "2025-01-23T06:59:39.123456789Z"
    headers["X-Shopify-API-Version"] = "2025-01"
    info = shopify.delivery(headers)
    assert (info.platform, info.topic, info.shop) == (
        "shopify",
        "orders/create",
        "demo-shop.myshopify.com",
    )
    assert (info.delivery_id, info.event_id, info.api_version) == ("w-1", "e-1", "2025-01")
    assert info.triggered_at == datetime(2025, 1, 23, 6, 59, 39, 123456, tzinfo=UTC)
    assert info.dedup_key == "shopify:demo-shop.myshopify.com:orders/create:e-1"


@pytest.mark.parametrize(
    "header", ["X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"]
)
def test_shopify_missing_header_is_named(header: str) -> None:
    headers = shopify_headers("orders/create", HKD, SECRET)
    del headers[header]
    with pytest.raises(MissingHeaderError, match=header) as caught:
        shopify.delivery(headers)
    assert caught.value.header == header


def test_shopify_optional_headers() -> None:
    headers = shopify_headers("orders/create", HKD, SECRET, webhook_id="w-2")
    del headers["X-Shopify-Event-Id"]
    headers["X-Shopify-Triggered-At"] = "garbage"
    info = shopify.delivery(headers)
    assert info.event_id is None and info.triggered_at is None
    assert info.dedup_key.endswith(":w-2")


def test_woocommerce_delivery_info() -> None:
    raw = woocommerce_json(woocommerce_order())
    headers = woocommerce_headers(
        "order.updated", raw, "s", source="https://Shop.Example.dk/", delivery_id="d1"
    )
    info = woocommerce.delivery({k.lower(): v for k, v in headers.items()})
    assert (info.topic, info.shop, info.delivery_id) == ("order.updated", "shop.example.dk", "d1")
    assert info.event_id is None and info.subscription_id == "12"


def test_woocommerce_documented_delivery_header_name_is_accepted() -> None:
    headers = woocommerce_headers("order.updated", b"{}", "s")
    headers["X-WC-Delivery-ID"] = headers.pop("X-WC-Webhook-Delivery-ID")
    assert woocommerce.delivery(headers).delivery_id == headers["X-WC-Delivery-ID"]


@pytest.mark.parametrize(
    "header", ["X-WC-Webhook-Topic", "X-WC-Webhook-Source", "X-WC-Webhook-Delivery-ID"]
)
def test_woocommerce_missing_header_is_named(header: str) -> None:
    headers = woocommerce_headers("order.updated", b"{}", "s")
    del headers[header]
    with pytest.raises(MissingHeaderError, match=header):
        woocommerce.delivery(headers)


# --- topics and ping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "kind"),
    [
        ("orders/create", TopicKind.ORDER),
        ("orders/updated", TopicKind.ORDER),
        ("orders/paid", TopicKind.ORDER),
        ("orders/fulfilled", TopicKind.ORDER),
        ("orders/partially_fulfilled", TopicKind.ORDER),
        ("orders/edited", TopicKind.ORDER),
        ("orders/cancelled", TopicKind.CANCELLED),
        ("refunds/create", TopicKind.REFUND),
        ("inventory_levels/update", TopicKind.INVENTORY_LEVEL),
        ("Orders/Create", TopicKind.ORDER),
        ("orders/delete", TopicKind.UNKNOWN),
        ("customers/create", TopicKind.UNKNOWN),
    ],
)
def test_shopify_classify(topic: str, kind: TopicKind) -> None:
    assert shopify.classify(topic) is kind


@pytest.mark.parametrize(
    ("topic", "kind"),
    [
        ("order.created", TopicKind.ORDER),
        ("order.updated", TopicKind.ORDER),
        ("order.restored", TopicKind.ORDER),
        ("order.deleted", TopicKind.CANCELLED),
        ("ping", TopicKind.PING),
        ("product.updated", TopicKind.UNKNOWN),
        ("action.woocommerce_order_refunded", TopicKind.UNKNOWN),
    ],
)
def test_woocommerce_classify(topic: str, kind: TopicKind) -> None:
    assert woocommerce.classify(topic) is kind


def test_woocommerce_ping() -> None:
    headers, body = woocommerce_ping(webhook_id=42)
    assert woocommerce.is_ping(headers, body)
    assert woocommerce.is_ping({}, body)
    assert not woocommerce.is_ping(headers, b"webhook_id=abc")
    assert not woocommerce.is_ping(headers, b"webhook_id=1&x=2")
    assert not woocommerce.is_ping({"Content-Type": "application/json"}, body)
    raw = woocommerce_json(woocommerce_order())
    assert not woocommerce.is_ping(woocommerce_headers("order.created", raw, "s"), raw)
    assert not shopify.is_ping(headers, body)


# --- registry -----------------------------------------------------------------------------------


def test_registry() -> None:
    assert get_adapter("shopify") is shopify
    assert get_adapter(" WooCommerce ") is woocommerce
    assert isinstance(shopify, PlatformAdapter) and isinstance(woocommerce, PlatformAdapter)
    with pytest.raises(UnknownPlatformError, match="magento"):
        get_adapter("magento")
