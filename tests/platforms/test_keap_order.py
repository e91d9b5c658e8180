"""A fetched Keap order (with its contact and the account's currency) read into our neutral
order, and a Keap hook delivery read into the ids it names."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from lb_connectors.platforms import PayloadError, get_adapter, notifying
from lb_connectors.platforms.keap import keap

SHOP = "ab123.infusionsoft.com"


def keap_body(**order_changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": 4242,
        "title": "Order #4242",
        "status": "PAID",
        "total": 264.5,
        "total_paid": 264.5,
        "total_due": 0,
        "refund_total": 0,
        "creation_date": "2026-11-28T10:00:00.000+0000",
        "modification_date": "2026-11-28T10:05:00.000+0000",
        "order_date": "2026-11-28T09:59:00.000+0000",
        "contact": {
            "id": 77,
            "email": "Ada@Example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company_name": None,
        },
        "shipping_information": {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "street1": "1 Analytical Row",
            "city": "London",
            "zip": "EC1A 1BB",
            "country": "GBR",
        },
        "order_items": [
            {"id": 1, "name": "Mug", "type": "Product", "price": 12.5, "quantity": 4,
             "discount": 0, "product": {"id": 9, "sku": "MUG-BLACK", "name": "Mug"}},
            {"id": 2, "name": "Poster", "type": "Product", "price": 150, "quantity": 1,
             "discount": 0, "product": {"id": 10, "sku": "POSTER"}},
            {"id": 3, "name": "Spring sale", "type": "Special", "price": -20, "quantity": 1},
            {"id": 4, "name": "Standard shipping", "type": "Shipping", "price": 9.5,
             "quantity": 1},
            {"id": 5, "name": "Sales tax", "type": "Tax", "price": 75, "quantity": 1},
        ],
    }  # fmt: skip
    order.update(order_changes)
    return {
        "order": order,
        "contact": {
            "id": 77,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email_addresses": [{"email": "ada@example.com", "field": "EMAIL1"}],
            "phone_numbers": [{"number": "+44 20 7946 0000", "field": "PHONE1"}],
            "addresses": [
                {"field": "BILLING", "line1": "12 Babbage St", "locality": "London",
                 "region": "Greater London", "postal_code": "N1 9GU", "country_code": "GBR"},
            ],
            "company": {"id": 5, "company_name": "Engines Ltd"},
        },
        "currency": "GBP",
    }  # fmt: skip


def parse(body: dict[str, Any]):
    return keap.parse_order(json.dumps(body).encode(), shop=SHOP)


def test_a_paid_keap_order_becomes_a_neutral_order_with_its_contacts_details():
    order = parse(keap_body())
    assert order.order_key == f"keap:{SHOP}:4242"
    assert order.order_name == "Order #4242"
    assert order.currency == "GBP" and order.financial_status == "paid"
    assert order.version == datetime(2026, 11, 28, 10, 5, tzinfo=UTC)
    assert order.created_at == datetime(2026, 11, 28, 9, 59, tzinfo=UTC)
    assert order.total_price == Decimal("264.5")
    assert order.buyer is not None
    assert order.buyer.email == "ada@example.com" and order.buyer.company == "Engines Ltd"
    assert order.buyer.platform_customer_id == "77"
    assert order.billing_address is not None
    assert order.billing_address.address1 == "12 Babbage St"
    assert order.billing_address.country_code == "GB"  # Keap sends ISO alpha-3
    assert order.shipping_address is not None and order.shipping_address.city == "London"


def test_items_become_product_shipping_and_tax_and_a_negative_item_a_spread_discount():
    order = parse(keap_body())
    assert [(line.sku, line.quantity, line.unit_price) for line in order.lines] == [
        ("MUG-BLACK", Decimal(4), Decimal("12.5")),
        ("POSTER", Decimal(1), Decimal(150)),
    ]
    # 20 off, spread by value (50 and 150 of 200): 5 and 15, adding up exactly.
    assert [line.discount for line in order.lines] == [Decimal("5.00"), Decimal("15.00")]
    assert order.total_discounts == Decimal(20)
    [shipping] = order.shipping_lines
    assert shipping.price == Decimal("9.5") and shipping.title == "Standard shipping"
    assert order.total_tax == Decimal(75)
    # Keap's one tax item, spread over what it taxes with the rate it implies (75 / 189.5).
    assert sum(line.tax for line in order.lines) + shipping.tax == Decimal(75)
    assert {line.tax_rate for line in order.lines} == {shipping.tax_rate} == {Decimal("0.3958")}
    lines = sum(line.unit_price * line.quantity - line.discount for line in order.lines)
    assert lines + shipping.price + order.total_tax == order.total_price


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"status": "SENT", "total_paid": 0}, "pending"),
        ({"status": "SENT", "total_paid": 100}, "partially_paid"),
        ({"refund_total": 264.5}, "refunded"),
        ({"refund_total": 10}, "partially_refunded"),
    ],
)
def test_keaps_payment_state_decides_the_financial_status(changes, status):
    assert parse(keap_body(**changes)).financial_status == status


def test_an_order_without_its_modification_date_is_versioned_by_its_creation():
    body = keap_body(modification_date=None)
    assert parse(body).version == datetime(2026, 11, 28, 9, 59, tzinfo=UTC)


def test_a_bad_amount_is_named_by_its_path():
    body = keap_body()
    body["order"]["order_items"][1]["price"] = "lots"
    with pytest.raises(PayloadError, match=r"order_items\[1\]\.price"):
        parse(body)


def test_a_body_without_currency_is_refused_by_name():
    body = keap_body()
    del body["currency"]
    with pytest.raises(PayloadError, match="currency"):
        parse(body)


def test_a_hook_delivery_is_read_as_ids_with_their_timestamps():
    adapter = notifying(get_adapter("keap"))
    assert adapter is not None
    notification = adapter.parse_notification(
        json.dumps(
            {
                "event_key": "order.add",
                "object_type": "order",
                "object_keys": [
                    {"id": 4242, "timestamp": "2026-11-28T10:05:00Z"},
                    {"id": "4243", "apiUrl": "", "timestamp": "2026-11-28T10:06:00Z"},
                ],
            }
        ).encode()
    )
    assert notification.event_key == "order.add" and notification.object_type == "order"
    assert [(o.id, o.timestamp) for o in notification.objects] == [
        ("4242", "2026-11-28T10:05:00Z"),
        ("4243", "2026-11-28T10:06:00Z"),
    ]
    assert adapter.fetches("order.add") and not adapter.fetches("contact.add")
    with pytest.raises(PayloadError, match="object_keys"):
        adapter.parse_notification(b'{"event_key": "order.add", "object_keys": []}')


def test_the_hook_token_is_the_authentication_and_shopify_is_not_notifying():
    assert keap.verify_hook_token("s3cret-token", ["old", "s3cret-token"])
    assert not keap.verify_hook_token("s3cret-tokem", ["s3cret-token"])
    assert not keap.verify_hook_token("", ["s3cret-token"])
    assert keap.handshake_secret({"x-hook-secret": "abc"}) == "abc"
    assert keap.handshake_secret({}) is None
    assert notifying(get_adapter("shopify")) is None
    assert notifying(get_adapter("woocommerce")) is None


def refunds(body: dict[str, Any]):
    return keap.parse_refunds_from_order(json.dumps(body).encode(), shop=SHOP)


def test_refund_total_is_one_refund_named_by_the_amount_refunded_to_date():
    assert refunds(keap_body()) == []
    [refund] = refunds(keap_body(refund_total=100.5))
    assert refund.refund_id == "refunded-to-date:100.50"
    assert (refund.total, refund.adjustments, refund.lines) == (
        Decimal("100.5"), Decimal("100.5"), ()
    )  # fmt: skip
    assert refund.currency == "GBP"
    # Read again (a re-fetch, a redelivery): the same id; refunded further: another.
    assert refunds(keap_body(refund_total=100.50))[0].refund_id == refund.refund_id
    assert refunds(keap_body(refund_total=264.5))[0].refund_id == "refunded-to-date:264.50"
    assert parse(keap_body(refund_total=100.5)).financial_status == "partially_refunded"


def test_a_body_marked_deleted_is_the_orders_cancellation_at_the_hooks_time():
    body = keap_body(refund_total=20)
    body["deleted"] = {"event_key": "invoice.delete", "timestamp": "2026-11-28T11:00:00Z"}
    order = parse(body)
    assert order.cancelled_at == datetime(2026, 11, 28, 11, tzinfo=UTC)
    assert order.version == order.cancelled_at  # later than the last modification
    assert keap.order_kind(json.dumps(body).encode()).value == "cancelled"
    assert keap.classify("invoice.delete").value == "order" and keap.fetches("order.delete")
    assert refunds(body)[0].created_at == "2026-11-28T11:00:00+00:00"
    # A deletion timestamped before the last edit (clocks apart) does not make it older.
    body["deleted"]["timestamp"] = "2026-11-28T10:00:00Z"
    assert parse(body).version == datetime(2026, 11, 28, 10, 5, tzinfo=UTC)
    assert parse(keap_body()).cancelled_at is None
