"""WooCommerce order bodies → CanonicalOrder and Refunds."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from lb_connectors.platforms import CustomerFieldMap, PayloadError, TopicKind, woocommerce

from .factories import fixture, woocommerce_json, woocommerce_order

V3 = "woocommerce_order_v3.json"


def parse(body: dict | bytes, **kwargs):
    raw = body if isinstance(body, bytes) else woocommerce_json(body)
    return woocommerce.parse_order(raw, shop="example.com", **kwargs)


def _reconciles(order) -> bool:
    lines = sum(line.unit_price * line.quantity - line.discount for line in order.lines)
    shipping = sum(s.price - s.discount for s in order.shipping_lines)
    tax = Decimal(0) if order.taxes_included else order.total_tax
    return lines + shipping + tax == order.total_price


def test_v3_fixture() -> None:
    order = parse(fixture(V3))

    assert order.platform == "woocommerce"
    assert order.order_id == "727"
    assert order.order_name == "#727"
    assert order.currency == "USD"
    # The *_gmt fields, read as UTC (the plain ones are site-local without an offset).
    assert order.created_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert order.version == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert order.financial_status == "paid"  # processing
    assert order.fulfillment_status is None
    assert order.taxes_included is False
    first, second = order.lines
    # `price` is the JSON number 3 / 12; unit price comes from the string subtotal.
    assert (first.quantity, first.unit_price, first.tax) == (2, Decimal("3.00"), Decimal("0.45"))
    assert first.sku is None and second.sku == "Bar3"
    assert second.title == "Ship Your Idea – Color: Black, Size: M Test"
    assert second.variant_id == "23" and first.variant_id is None
    assert all(type(v) is Decimal for line in order.lines for v in (line.unit_price, line.tax))
    assert order.shipping_lines[0].price == Decimal("10.00")
    assert order.total_tax == Decimal("1.35")
    assert order.total_price == Decimal("29.35")
    assert order.buyer.email == "john.doe@example.com"
    assert order.buyer.platform_customer_id is None  # customer_id 0 = guest
    assert order.billing_address.country_code == "US"
    assert _reconciles(order)


def test_factory_order_with_discount_reconciles() -> None:
    body = woocommerce_order(
        lines=[
            {"quantity": 3, "price": "40.00", "discount": "12.00"},
            {"sku": "B", "price": "9.99"},
        ]
    )
    order = parse(body)
    assert order.lines[0].discount == Decimal("12.00")
    assert order.lines[0].tax_rate == Decimal("0.25")
    assert order.total_discounts == Decimal("12.00")
    assert _reconciles(order)


def test_prices_include_tax_adds_tax_back_into_prices() -> None:
    body = woocommerce_order(lines=[{"quantity": 2, "price": "80.00", "discount": "20.00"}])
    body["prices_include_tax"] = True
    order = parse(body)
    line = order.lines[0]
    assert order.taxes_included is True
    assert line.unit_price == Decimal("100.00")  # 80 + 25 % VAT
    assert line.discount == Decimal("25.00")  # 20 + its VAT
    assert order.shipping_lines[0].price == Decimal("48.75")  # 39 + VAT
    assert _reconciles(order)


def test_unit_price_that_does_not_divide_evenly() -> None:
    body = woocommerce_order(lines=[{"quantity": 3, "price": "3.33"}])
    body["line_items"][0]["subtotal"] = body["line_items"][0]["total"] = "10.00"
    line = parse(body).lines[0]
    assert line.unit_price == Decimal("3.333333")
    assert (line.unit_price * line.quantity).quantize(Decimal("0.01")) == Decimal("10.00")


def test_fee_lines_become_order_lines() -> None:
    body = woocommerce_order()
    body["fee_lines"] = [
        {"id": 9, "name": "Gebyr", "total": "10.00", "total_tax": "2.50", "taxes": []}
    ]
    body["total"] = str(Decimal(body["total"]) + Decimal("12.50"))
    body["total_tax"] = str(Decimal(body["total_tax"]) + Decimal("2.50"))
    order = parse(body)
    assert order.lines[-1].title == "Gebyr" and order.lines[-1].sku is None
    assert _reconciles(order)


@pytest.mark.parametrize(
    ("status", "financial", "kind"),
    [
        ("pending", "pending", TopicKind.ORDER),
        ("on-hold", "pending", TopicKind.ORDER),
        ("processing", "paid", TopicKind.ORDER),
        ("completed", "paid", TopicKind.ORDER),
        ("refunded", "refunded", TopicKind.ORDER),
        ("cancelled", "voided", TopicKind.CANCELLED),
        ("failed", "voided", TopicKind.CANCELLED),
    ],
)
def test_status_mapping(status: str, financial: str, kind: TopicKind) -> None:
    body = woocommerce_order(status=status)
    order = parse(body)
    assert order.financial_status == financial
    assert woocommerce.order_kind(woocommerce_json(body)) is kind
    assert (order.cancelled_at is not None) == (kind is TopicKind.CANCELLED)
    assert order.fulfillment_status == ("fulfilled" if status == "completed" else None)


def test_cvr_and_ean_from_meta_data() -> None:
    b2b = parse(woocommerce_order(meta_data={"_billing_cvr": "12345678"}, company="Firma ApS"))
    assert (b2b.buyer.customer_type, b2b.buyer.vat_number) == ("b2b", "12345678")
    assert b2b.buyer.company == "Firma ApS"
    ean = parse(
        woocommerce_order(meta_data={"_billing_cvr": "12345678", "billing_ean": "5798000000000"})
    )
    assert (ean.buyer.customer_type, ean.buyer.ean) == ("ean", "5798000000000")
    custom = CustomerFieldMap(woocommerce_vat_meta_keys=("_my_vat",))
    other = parse(woocommerce_order(meta_data={"_my_vat": "DK11223344"}), fields=custom)
    assert other.buyer.vat_number == "DK11223344"
    assert other.buyer.vat_number_source == "the order's meta field '_my_vat'"
    assert ean.buyer.ean_source == "the order's meta field 'billing_ean'"


def test_meta_values_of_other_types_are_ignored() -> None:
    body = woocommerce_order(meta_data=[{"id": 1, "key": "_billing_cvr", "value": {"x": 1}}])
    assert parse(body).buyer.customer_type == "b2c"


def test_refunds_from_order_updated() -> None:
    body = woocommerce_order(
        refunds=[
            {"id": 801, "reason": "Damaged", "total": "-5.00"},
            {"id": 802, "reason": "", "total": "-0.5"},
        ]
    )
    first, second = woocommerce.parse_refunds_from_order(woocommerce_json(body), shop="example.com")
    assert (first.refund_id, first.total, first.adjustments) == (
        "801",
        Decimal("5.00"),
        Decimal("5.00"),
    )
    assert first.note == "Damaged" and first.currency == "DKK"
    assert second.total == Decimal("0.5") and second.note is None
    assert first.created_at == "2025-03-01T09:00:05+00:00"


def test_deleted_order_body_carries_only_the_id() -> None:
    assert woocommerce.parse_order_id(b'{"id": 727}') == "727"


def test_payload_errors_name_the_field() -> None:
    body = woocommerce_order()
    body["line_items"][0]["price"] = "abc"
    with pytest.raises(PayloadError, match=re.escape("line_items[0].price: 'abc' is not a number")):
        parse(body)
    body = woocommerce_order(date_modified_gmt="not a date")
    with pytest.raises(PayloadError, match=r"^date_modified_gmt: "):
        parse(body)


def test_unsupported_topics_say_so() -> None:
    with pytest.raises(NotImplementedError):
        woocommerce.parse_refund(b"{}", shop="s")
    with pytest.raises(NotImplementedError):
        woocommerce.parse_inventory_level(b"{}")
