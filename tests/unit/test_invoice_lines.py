"""Invoice lines net of VAT, with the shop's discount allocations, products and shipping."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from lb_common.errors import PermanentError
from lb_connectors.platforms.registry import get_adapter
from lb_invoicing.lines import plan_invoice, products_needed
from lb_invoicing.policy import DEMO_SETTINGS, InvoiceSettings
from tests.platforms.factories import fixture, shopify_json, shopify_order

SHOP = "demo-shop.myshopify.com"
KNOWN = frozenset({"WEB-DEFAULT", "SHIPPING", "TSHIRT-RED-M"})


def parse(raw: bytes):
    return get_adapter("shopify").parse_order(raw, shop=SHOP)


def test_hkd_sample_lines_carry_the_allocated_discounts_and_sum_to_the_shop_total():
    order = parse(fixture("shopify_orders_create_discounts_HKD.json"))
    plan = plan_invoice(order, DEMO_SETTINGS, KNOWN)
    assert [line.unit_net_price for line in plan.lines] == [
        Decimal("89.22"),
        Decimal("94.92"),
        Decimal("94.93"),
        Decimal("94.93"),
        Decimal("20.00"),
    ]
    assert plan.net_total == order.total_price == Decimal("394.00")
    assert len(plan.notes) == 4 and "no SKU" in plan.notes[0]


def test_prices_including_vat_are_sent_net():
    order = parse(
        shopify_json(
            shopify_order(
                lines=[{"sku": "TSHIRT-RED-M", "quantity": 2, "price": "125.00"}], shipping="50.00"
            )
        )
    )
    plan = plan_invoice(order, InvoiceSettings(), KNOWN)
    assert [(line.product_number, line.quantity, line.unit_net_price) for line in plan.lines] == [
        ("TSHIRT-RED-M", Decimal(2), Decimal("100.00")),
        ("SHIPPING", Decimal(1), Decimal("40.00")),
    ]
    assert plan.net_total * Decimal("1.25") == order.total_price


def test_unknown_sku_fails_naming_it_unless_a_default_product_is_set():
    order = parse(shopify_json(shopify_order(lines=[{"sku": "NOPE-1", "title": "Ghost"}])))
    with pytest.raises(PermanentError, match=r"SKU 'NOPE-1'.*Ghost"):
        plan_invoice(order, InvoiceSettings(), KNOWN)
    lenient = InvoiceSettings(unknown_product="default_product", default_product="WEB-DEFAULT")
    plan = plan_invoice(order, lenient, KNOWN)
    assert plan.lines[0].product_number == "WEB-DEFAULT"
    assert plan.lines[0].sku == "NOPE-1"
    assert "NOPE-1" in plan.notes[0]


def test_missing_sku_fails_by_default_with_what_to_do():
    order = parse(fixture("shopify_orders_create_discounts_HKD.json"))
    with pytest.raises(PermanentError, match="has no SKU"):
        plan_invoice(order, InvoiceSettings(), KNOWN)


def test_missing_shipping_product_is_named():
    order = parse(shopify_json(shopify_order(lines=[{"sku": "TSHIRT-RED-M"}], shipping="10.00")))
    with pytest.raises(PermanentError, match="shipping product 'FRAGT'"):
        plan_invoice(order, InvoiceSettings(shipping_product="FRAGT"), KNOWN)


def test_products_to_look_up():
    order = parse(shopify_json(shopify_order(lines=[{"sku": "A"}, {"sku": "B"}], shipping="5.00")))
    assert products_needed(order, DEMO_SETTINGS) == {"A", "B", "SHIPPING", "WEB-DEFAULT"}


def test_one_total_line_per_vat_rate_on_the_total_product():
    order = parse(
        shopify_json(
            shopify_order(
                lines=[
                    {"sku": "TSHIRT-RED-M", "quantity": 2, "price": "125.00"},
                    {"sku": "TSHIRT-RED-M", "price": "62.50", "tax_rate": "0.25"},
                ],
                shipping="50.00",
            )
        )
    )
    settings = InvoiceSettings(lines="one_total", total_product="WEBSHOP-SALE")
    plan = plan_invoice(order, settings, KNOWN | {"WEBSHOP-SALE"})
    [line] = plan.lines
    assert (line.product_number, line.quantity) == ("WEBSHOP-SALE", Decimal(1))
    assert line.unit_net_price == Decimal("290.00")  # (250 + 62.50 + 50) / 1.25
    assert line.unit_net_price * Decimal("1.25") == order.total_price
    with pytest.raises(PermanentError, match="total product 'WEBSHOP-SALE'"):
        plan_invoice(order, settings, KNOWN)


def test_gift_cards_go_on_their_own_product():
    order = parse(
        shopify_json(
            shopify_order(
                lines=[
                    {
                        "sku": "GC-100",
                        "title": "Gift card",
                        "price": "100.00",
                        "gift_card": True,
                        "tax_rate": None,
                    }
                ],
                tax_rate=None,
            )
        )
    )
    plan = plan_invoice(order, InvoiceSettings(gift_card_product="GIFTCARD"), KNOWN)
    assert [line.product_number for line in plan.lines] == ["GIFTCARD"]


def test_order_discounts_as_their_own_line_on_the_discount_product():
    order = parse(fixture("shopify_orders_create_discounts_HKD.json"))
    settings = InvoiceSettings(
        missing_sku="default_product", default_product="WEB-DEFAULT", discount_product="DISCOUNT"
    )
    plan = plan_invoice(order, settings, KNOWN | {"DISCOUNT"})
    assert [(line.product_number, line.unit_net_price) for line in plan.lines] == [
        ("WEB-DEFAULT", Decimal("99.00")),
        ("WEB-DEFAULT", Decimal("100.00")),
        ("WEB-DEFAULT", Decimal("100.00")),
        ("WEB-DEFAULT", Decimal("100.00")),
        ("SHIPPING", Decimal("20.00")),
        ("DISCOUNT", Decimal("-25.00")),
    ]
    assert plan.net_total == order.total_price
    with pytest.raises(PermanentError, match="discount product 'DISCOUNT'"):
        plan_invoice(order, settings, KNOWN)


def test_discount_line_with_vat_included_keeps_the_shop_total():
    order = parse(
        shopify_json(
            shopify_order(lines=[{"sku": "TSHIRT-RED-M", "price": "125.00", "discount": "25.00"}])
        )
    )
    plan = plan_invoice(order, InvoiceSettings(discount_product="DISCOUNT"), KNOWN | {"DISCOUNT"})
    nets = [(line.product_number, line.unit_net_price) for line in plan.lines]
    assert nets == [("TSHIRT-RED-M", Decimal("100.00")), ("DISCOUNT", Decimal("-20.00"))]
    assert plan.net_total * Decimal("1.25") == order.total_price == Decimal("100.00")


def test_woocommerce_fees_go_on_the_fee_product():
    raw = json.loads(fixture("woocommerce_order_v3.json"))
    raw["fee_lines"] = [
        {
            "id": 9,
            "name": "Payment fee",
            "total": "5.00",
            "total_tax": "0.00",
            "taxes": [],
            "tax_status": "none",
        }
    ]
    raw["total"] = str(Decimal(raw["total"]) + 5)
    order = get_adapter("woocommerce").parse_order(json.dumps(raw).encode(), shop="w")
    known = frozenset(line.sku for line in order.lines if line.sku) | {"SHIPPING", "FEES"}
    settings = InvoiceSettings(
        fee_product="FEES", missing_sku="default_product", default_product="WEB-DEFAULT"
    )
    plan = plan_invoice(order, settings, known | {"WEB-DEFAULT"})
    [fee] = [line for line in plan.lines if line.product_number == "FEES"]
    assert (fee.description, fee.unit_net_price) == ("Payment fee", Decimal("5.00"))
