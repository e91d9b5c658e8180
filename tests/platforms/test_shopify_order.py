"""Shopify order bodies → CanonicalOrder, checked against the real HKD capture and factories."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from lb_connectors.platforms import CustomerFieldMap, PayloadError, TopicKind, shopify

from .factories import fixture, shopify_json, shopify_order, with_presentment

HKD = "shopify_orders_create_discounts_HKD.json"
SHOP = "webhook-manager-app.myshopify.com"


def parse(body: dict | bytes, **kwargs):
    raw = body if isinstance(body, bytes) else shopify_json(body)
    return shopify.parse_order(raw, shop=SHOP, **kwargs)


def test_hkd_fixture_lines_use_discount_allocations() -> None:
    order = parse(fixture(HKD))

    assert order.order_id == "6198432301356"
    assert order.order_name == "#1054"
    assert order.currency == "HKD"
    assert len(order.lines) == 4
    # total_discount is "0.00" on every line; only the allocations hold the 25.00.
    assert [line.discount for line in order.lines] == [
        Decimal("9.78"),  # 4.78 code + 5.00 automatic
        Decimal("5.08"),
        Decimal("5.07"),
        Decimal("5.07"),
    ]
    assert sum(line.discount for line in order.lines) == Decimal("25.00") == order.total_discounts
    assert order.total_price == Decimal("394.00")
    assert [s.price for s in order.shipping_lines] == [Decimal("20.00")]
    assert all(line.sku is None for line in order.lines)  # "" in the body
    assert all(isinstance(line.unit_price, Decimal) for line in order.lines)


def test_hkd_fixture_metadata_and_utc_times() -> None:
    order = parse(fixture(HKD))

    assert order.version == datetime(2025, 1, 23, 6, 59, 38, tzinfo=UTC)  # 01:59:38-05:00
    assert order.created_at == datetime(2025, 1, 23, 6, 59, 37, tzinfo=UTC)
    assert order.version.utcoffset() is not None and order.version.utcoffset().total_seconds() == 0
    assert order.financial_status == "paid"
    assert order.fulfillment_status is None
    assert order.cancelled_at is None
    assert order.payment_gateways == ("manual",)
    assert order.source_name == "shopify_draft_order"
    assert order.taxes_included is False
    assert order.buyer is not None
    assert order.buyer.email == "redacted@example.com"
    assert order.buyer.platform_customer_id == "8658316394796"
    assert order.buyer.first_name == "Alan"
    assert order.buyer.customer_type == "b2c"
    assert order.billing_address is not None and order.billing_address.country_code == "HK"
    assert order.order_key == f"shopify:{SHOP}:6198432301356"
    assert shopify.order_kind(fixture(HKD)) is TopicKind.ORDER


def _reconciles(order) -> bool:
    lines = sum(line.unit_price * line.quantity - line.discount for line in order.lines)
    shipping = sum(s.price - s.discount for s in order.shipping_lines)
    tax = Decimal(0) if order.taxes_included else order.total_tax
    return lines + shipping + tax == order.total_price


def test_hkd_fixture_amounts_reconcile_with_total_price() -> None:
    assert _reconciles(parse(fixture(HKD)))


@pytest.mark.parametrize("taxes_included", [True, False])
def test_factory_orders_reconcile_and_carry_tax(taxes_included: bool) -> None:
    body = shopify_order(
        lines=[
            {"sku": "A-1", "quantity": 2, "price": "125.00", "discount": "25.00"},
            {"sku": "B-2", "quantity": 1, "price": "80.00"},
        ],
        shipping="39.00",
        taxes_included=taxes_included,
    )
    order = parse(body)

    assert _reconciles(order)
    assert [line.tax_rate for line in order.lines] == [Decimal("0.25"), Decimal("0.25")]
    assert order.shipping_lines[0].tax_rate == Decimal("0.25")
    assert order.lines[0].tax == (Decimal("45.00") if taxes_included else Decimal("56.25"))


def test_order_without_customer_or_billing_address() -> None:
    body = shopify_order(customer=None, billing_address=None, email=None, contact_email=None)
    order = parse(body)

    assert order.billing_address is None
    assert order.buyer is not None
    assert order.buyer.platform_customer_id is None
    assert order.buyer.email is None
    # Name falls back to the shipping address.
    assert (order.buyer.first_name, order.buyer.last_name) == ("Karen", "Jensen")


def test_order_without_any_buyer_data_has_no_buyer() -> None:
    body = shopify_order(customer=None, billing_address=None, shipping_address=None, email=None)
    assert parse(body).buyer is None


def test_buyer_name_falls_back_to_customer_default_address() -> None:
    body = shopify_order(billing_address=None)
    body["customer"]["default_address"]["first_name"] = "Default"
    assert parse(body).buyer.first_name == "Default"


def test_buyer_email_falls_back_to_contact_email_then_customer() -> None:
    body = shopify_order(email=None)
    body["contact_email"] = "contact@example.com"
    assert parse(body).buyer.email == "contact@example.com"
    body["contact_email"] = None
    body["customer"]["email"] = "customer@example.com"
    assert parse(body).buyer.email == "customer@example.com"


def test_cvr_note_attribute_makes_b2b() -> None:
    order = parse(shopify_order(note_attributes={"CVR-nummer": " 12345678 "}, company="Firma ApS"))
    assert order.buyer.customer_type == "b2b"
    assert order.buyer.vat_number == "12345678"
    assert order.buyer.company == "Firma ApS"


def test_ean_note_attribute_makes_ean_even_with_cvr() -> None:
    body = shopify_order(note_attributes={"CVR": "12345678", "EAN": "5798000000000"})
    buyer = parse(body).buyer
    assert buyer.customer_type == "ean"
    assert buyer.ean == "5798000000000"
    assert buyer.vat_number == "12345678"


def test_the_buyer_says_which_note_attribute_held_the_numbers() -> None:
    # As spelt on the order, so a failure tells the bookkeeper where to look.
    body = shopify_order(note_attributes={"cvr-nummer": "12345674", "EAN": "579 0000 000005"})
    buyer = parse(body).buyer
    assert buyer.ean == "579 0000 000005"  # as typed; services normalise it
    assert buyer.ean_source == "the order's note attribute 'EAN'"
    assert buyer.vat_number_source == "the order's note attribute 'cvr-nummer'"
    assert parse(shopify_order()).buyer.ean_field is None


def test_attribute_names_are_configurable_and_case_insensitive() -> None:
    body = shopify_order(note_attributes=[{"name": "firma_cvr", "value": "87654321"}])
    assert parse(body).buyer.customer_type == "b2c"
    custom = CustomerFieldMap(shopify_vat_attributes=("FIRMA_CVR",))
    assert parse(body, fields=custom).buyer.vat_number == "87654321"


def test_billing_company_counts_only_when_configured() -> None:
    body = shopify_order(company="Firma ApS")
    assert parse(body).buyer.customer_type == "b2c"
    fields = CustomerFieldMap(billing_company_is_b2b=True)
    assert parse(body, fields=fields).buyer.customer_type == "b2b"


def test_ids_beyond_2_pow_53_stay_exact() -> None:
    big = 2**63 - 1
    body = shopify_order(id=big, lines=[{"id": big - 1, "product_id": 2**53 + 1}])
    order = parse(body)
    assert order.order_id == str(big)
    assert order.lines[0].line_id == str(big - 1)
    assert order.lines[0].product_id == str(2**53 + 1)


def test_removed_shipping_lines_are_skipped() -> None:
    body = shopify_order(shipping="39.00")
    body["shipping_lines"].append({**body["shipping_lines"][0], "id": 1, "is_removed": True})
    assert len(parse(body).shipping_lines) == 1


def test_cancelled_order() -> None:
    body = shopify_order(cancelled_at="2025-03-02T12:00:00+01:00", financial_status="voided")
    order = parse(body)
    assert order.cancelled_at == datetime(2025, 3, 2, 11, 0, tzinfo=UTC)
    assert shopify.order_kind(shopify_json(body)) is TopicKind.CANCELLED


def test_plain_money_fields_are_shop_currency() -> None:
    body = shopify_order(currency="DKK", presentment_currency="EUR")
    body["total_price_set"]["presentment_money"] = {"amount": "1.00", "currency_code": "EUR"}
    order = parse(body)
    assert order.currency == "DKK"
    assert order.presentment_currency == "EUR"
    assert order.total_price == Decimal(body["total_price"])


def test_presentment_version_carries_the_buyers_amounts() -> None:
    body = shopify_order(
        lines=[
            {"sku": "A", "quantity": 2, "price": "100.00", "discount": "20.00"},
            {"sku": "B", "quantity": 1, "price": "50.00"},
        ],
        shipping="40.00",
    )
    order = parse(with_presentment(body, "EUR", "0.134"))

    assert order.currency == "DKK"
    assert order.total_price == Decimal("270.00")  # shop money untouched
    eur = order.presentment
    assert eur is not None
    assert eur.currency == eur.presentment_currency == "EUR"
    assert eur.presentment is None
    assert eur.order_key == order.order_key
    assert eur.buyer == order.buyer
    assert [(li.sku, li.quantity, li.unit_price, li.discount, li.tax) for li in eur.lines] == [
        ("A", Decimal("2"), Decimal("13.40"), Decimal("2.68"), Decimal("4.82")),
        ("B", Decimal("1"), Decimal("6.70"), Decimal("0"), Decimal("1.34")),
    ]
    assert [li.tax_rate for li in eur.lines] == [Decimal("0.25"), Decimal("0.25")]
    assert [(s.price, s.tax) for s in eur.shipping_lines] == [(Decimal("5.36"), Decimal("1.07"))]
    assert eur.total_discounts == Decimal("2.68")
    assert eur.total_tax == Decimal("7.24")  # 54.00 DKK × 0.134 (rounded once)
    assert eur.total_price == Decimal("36.18")


def test_no_presentment_version_when_the_buyer_paid_in_shop_currency() -> None:
    assert parse(fixture(HKD)).presentment is None
    assert parse(shopify_order(currency="DKK")).presentment is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["line_items"][0].pop("price_set"),
        lambda b: b.pop("total_price_set"),
        lambda b: b["line_items"][0]["price_set"].pop("presentment_money"),
        # A twin in yet another currency is not the buyer's amount.
        lambda b: b["line_items"][0]["price_set"]["presentment_money"].update(currency_code="SEK"),
    ],
)
def test_no_presentment_version_when_amounts_are_missing(mutate) -> None:
    body = with_presentment(shopify_order(), "EUR", "0.134")
    mutate(body)
    order = parse(body)
    assert order.presentment_currency == "EUR"
    assert order.presentment is None
    assert order.total_price == Decimal("100.00")


def test_bad_presentment_amount_names_the_field() -> None:
    body = with_presentment(shopify_order(), "EUR", "0.134")
    body["total_price_set"]["presentment_money"]["amount"] = "abc"
    with pytest.raises(PayloadError, match=re.escape("total_price_set.presentment_money.amount")):
        parse(body)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda b: b["line_items"][0].update(price="abc"),
            "line_items[0].price: 'abc' is not a number",
        ),
        (lambda b: b.update(total_price=None), "total_price: is required"),
        (lambda b: b.update(updated_at="yesterday"), "updated_at: 'yesterday' is not an ISO-8601"),
        (
            lambda b: b.update(updated_at="2025-03-01T10:00:00"),
            "updated_at: '2025-03-01T10:00:00' has no UTC offset",
        ),
        (lambda b: b.update(line_items={}), "line_items: expected an array"),
        (lambda b: b["line_items"][0].update(id=True), "line_items[0].id: True is not an id"),
        (
            lambda b: b["shipping_lines"][0]["tax_lines"][0].update(price=[1]),
            "shipping_lines[0].tax_lines[0].price",
        ),
        (lambda b: b.update(customer=[]), "customer: expected an object"),
        (lambda b: b.update(test="yes"), "test: expected true or false"),
    ],
)
def test_payload_errors_name_the_field(mutate, message: str) -> None:
    body = shopify_order(shipping="39.00")
    mutate(body)
    with pytest.raises(PayloadError, match=re.escape(message)):
        parse(json.dumps(body).encode())


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"webhook_id=1", b"\xff\xfe", b"[1, 2]", b"null", b'{"a": NaN}']
)
def test_bad_json_is_a_payload_error(raw: bytes) -> None:
    with pytest.raises(PayloadError, match=r"^body"):
        parse(raw)
