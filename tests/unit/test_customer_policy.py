"""Customer matching keys, VAT zones by rule, names and the fields of a new ledger customer."""

from __future__ import annotations

from lb_connectors.platforms.registry import get_adapter
from lb_customers.policy import (
    CustomerSettings,
    VatZoneRules,
    customer_name,
    match_key,
    new_customer_fields,
    vat_zone_for,
)
from tests.platforms.factories import fixture, shopify_json, shopify_order

SHOP = "demo-shop.myshopify.com"


def parse(body: dict):
    return get_adapter("shopify").parse_order(shopify_json(body), shop=SHOP)


def test_email_key_is_normalised_and_missing_email_gives_no_key():
    order = parse(shopify_order(email="  Jane.Doe@Example.COM "))
    assert match_key(order, CustomerSettings()) == "email:jane.doe@example.com"
    guest = parse(shopify_order(email=None, customer=None))
    assert match_key(guest, CustomerSettings()) is None


def test_vat_zone_rules_cover_domestic_eu_business_eu_private_and_abroad():
    rules = VatZoneRules()
    assert vat_zone_for("DK", "b2c", rules) == rules.domestic
    assert vat_zone_for("DE", "b2b", rules) == rules.eu_business
    assert vat_zone_for("DE", "b2c", rules) == rules.eu_private
    assert vat_zone_for("US", "b2b", rules) == rules.abroad
    assert vat_zone_for(None, "b2c", rules) == rules.domestic  # no country: the shop's own
    swedish_shop = VatZoneRules(home_country="SE", domestic=10, eu_private=11)
    assert vat_zone_for("SE", "b2c", swedish_shop) == 10
    assert vat_zone_for("DK", "b2c", swedish_shop) == 11


def test_business_buyer_is_named_by_company_and_carries_the_cvr():
    body = shopify_order(note_attributes={"CVR": "12345674"}, company="Tøj & Co ApS")
    order = parse(body)
    assert order.buyer is not None and order.buyer.customer_type == "b2b"
    assert customer_name(order) == "Tøj & Co ApS"
    fields = new_customer_fields(order, CustomerSettings())
    assert fields["corporate_identification_number"] == "12345674"
    assert fields["vat_zone"] == {"vat_zone_number": 1}


def test_new_customer_from_the_public_hkd_sample():
    order = get_adapter("shopify").parse_order(
        fixture("shopify_orders_create_discounts_HKD.json"), shop=SHOP
    )
    fields = new_customer_fields(order, CustomerSettings())
    assert fields["name"] == "Alan"
    assert fields["currency"] == "HKD"
    assert fields["email"] == "redacted@example.com"
    assert fields["vat_zone"] == {"vat_zone_number": 3}
    assert fields["country"] == "Hong Kong"
    assert "address" not in fields  # the sample's street is empty: omitted, never null
