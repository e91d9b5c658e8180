"""The customers service's decisions: settings, match keys, VAT zones, names, fields, validators."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lb_common.errors import PermanentError
from lb_common.normalise import normalise_name, normalise_vat_number
from lb_connectors.economic import customer_match
from lb_connectors.economic.filters import Filter
from lb_connectors.economic.models import Customer, CustomerCreate
from lb_connectors.platforms.registry import get_adapter
from lb_customers.config import ALL_CUSTOMER_FIELDS
from lb_customers.policy import (
    CustomerDecisionError,
    CustomerDefaults,
    CustomerSettings,
    CustomFieldMatch,
    MatchKey,
    TypeProfile,
    VatZoneRules,
    customer_name,
    customer_number_problem,
    cvr_problem,
    delivery_location_for,
    ean_problem,
    fields_to_update,
    fixed_booking,
    match_key,
    match_keys,
    new_customer_fields,
    new_customer_number,
    normalise_email,
    normalise_phone,
    not_found_booking,
    validate_customer_number,
    validate_cvr,
    validate_ean,
    vat_zone_for,
    vat_zone_number,
)
from tests.platforms.factories import shopify_json, shopify_order


# e-conomic's search for a match key lives in its adapter (the port's MatchKey, `key.port`).
def ledger_filter(key: MatchKey) -> Filter | None:
    port = key.port
    return None if port is None else customer_match.ledger_filter(port)


def pick_ledger_match(key: MatchKey, customers: Any) -> int | None:
    port = key.port
    assert port is not None
    return customer_match.pick_ledger_match(port, customers)


VALID_CVR = "12345674"
VALID_EAN = "5790000000005"


def parse(body: dict[str, Any]):
    return get_adapter("shopify").parse_order(shopify_json(body), shop="s")


def order(**kwargs: Any):
    return parse(shopify_order(**kwargs))


def b2b_order(**kwargs: Any):
    return order(note_attributes={"CVR": VALID_CVR}, company="Tøj & Co ApS", **kwargs)


def ean_order(**kwargs: Any):
    return order(**{"note_attributes": {"EAN": VALID_EAN}, "company": "Aarhus Kommune", **kwargs})


def address(**changes: Any) -> dict[str, Any]:
    base = {
        "first_name": "Karen",
        "last_name": "Jensen",
        "name": "Karen Jensen",
        "company": None,
        "address1": "Vestergade 1",
        "city": "København K",
        "zip": "1456",
        "country": "Denmark",
        "country_code": "DK",
        "phone": "+4512345678",
    }
    return {**base, **changes}


def ledger(number: int, **fields: Any) -> dict[str, Any]:
    return {"customerNumber": number, "name": "x", **fields}


# --- validators ------------------------------------------------------------------------------


@pytest.mark.parametrize("cvr", ["12345674", "DK12345674", "DK 12 34 56 74", "1234-5674"])
def test_valid_cvr_numbers_are_accepted_and_cleaned(cvr):
    assert cvr_problem(cvr) is None
    assert validate_cvr(cvr) == "12345674"


@pytest.mark.parametrize(
    ("cvr", "says"),
    [
        ("12345678", "modulus 11"),
        ("1234567", "exactly 8 digits"),
        ("123456741", "exactly 8 digits"),
        ("1234567A", "exactly 8 digits"),
        ("01234567", "never starts with 0"),
        ("", "empty"),
    ],
)
def test_invalid_cvr_numbers_give_a_readable_reason(cvr, says):
    assert says in (cvr_problem(cvr) or "")
    with pytest.raises(CustomerDecisionError, match="CVR"):
        validate_cvr(cvr)


@pytest.mark.parametrize("ean", [VALID_EAN, "5798000001237", "4006381333931", "579 0000 000005"])
def test_valid_ean_numbers_pass_the_gs1_check(ean):
    assert ean_problem(ean) is None
    assert validate_ean(ean) == ean.replace(" ", "")


@pytest.mark.parametrize(
    ("ean", "says"),
    [
        ("5790000000006", "check digit"),
        ("579000000000", "13 digits"),
        ("57900000000050", "13 digits"),
        ("579000000000X", "13 digits"),
        (None, "empty"),
    ],
)
def test_invalid_ean_numbers_give_a_readable_reason(ean, says):
    assert says in (ean_problem(ean) or "")
    with pytest.raises(CustomerDecisionError, match="EAN"):
        validate_ean(ean)


@pytest.mark.parametrize("number", ["1", "42", "999999999", 7, " 1001 "])
def test_valid_economic_customer_numbers(number):
    assert customer_number_problem(number) is None
    assert validate_customer_number(number) == int(str(number))


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("0", "must not start with 0"),
        ("0123", "must not start with 0"),
        ("1000000000", "largest is 999999999"),
        ("820982911946154510", "largest is 999999999"),
        ("12a", "whole number"),
        ("-5", "whole number"),
        (None, "no customer number"),
    ],
)
def test_invalid_economic_customer_numbers(number, says):
    assert says in (customer_number_problem(number) or "")
    with pytest.raises(CustomerDecisionError):
        validate_customer_number(number)


# --- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["12 34 56 78", "+45 12345678", "004512345678", "+45 12 34 56 78", "4512345678",
            "tel:+45-12-34-56-78", "(+45) 1234 5678"]
)  # fmt: skip
def test_danish_phone_numbers_in_any_spelling_are_the_same(raw):
    assert normalise_phone(raw, "DK") == "+4512345678"


def test_phone_numbers_use_the_country_numbering_plan():
    assert normalise_phone("070-123 45 67", "SE") == "+46701234567"  # trunk 0 dropped
    assert normalise_phone("+46 70 123 45 67", "DK") == "+46701234567"
    assert normalise_phone("+44 (0)20 7946 0018", "DK") == "+442079460018"
    assert normalise_phone("020 7946 0018", "GB") == "+442079460018"
    assert normalise_phone("06 1234 5678", "IT") == "+390612345678"  # Italy keeps its 0
    assert normalise_phone("12345678", None) == "12345678"  # unknown plan: digits as written
    assert normalise_phone("12345678", "ZZ") == "12345678"
    assert normalise_phone("n/a", "DK") is None
    assert normalise_phone("123", "DK") is None
    assert normalise_phone(None) is None


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("mailto:JANE@example.com", "jane@example.com"),
        ("jane@example.com.", "jane@example.com"),
        ("jane at example.com", None),
        ("jane@@example.com", None),
        ("jane doe@example.com", None),
        ("", None),
        (None, None),
    ],
)
def test_email_normalisation(raw, clean):
    assert normalise_email(raw) == clean


def test_name_and_vat_number_normalisation():
    assert normalise_name("  Karen   JENSEN ") == "karen jensen"
    assert normalise_vat_number("dk 12 34 56 74") == "12345674"
    assert normalise_vat_number("DE 123 456 789") == "DE123456789"
    assert normalise_vat_number("  ") is None


# --- settings --------------------------------------------------------------------------------


def test_settings_defaults_match_the_documented_ones():
    s = CustomerSettings()
    assert s.match_on == "email" and s.match_on_second is None
    assert s.per_customer_type is False
    assert s.customer_number_source == "ledger"
    assert s.create_if_missing is True and s.default_customer_number is None
    assert s.single_customer is False
    assert s.create_fields == ALL_CUSTOMER_FIELDS and s.update_fields == ()
    assert s.update_addresses == "off"
    assert s.name_format == "{first} {last}" and s.company_name_format == "{company}"
    assert s.defaults == CustomerDefaults(customer_group=1, payment_terms=1)
    assert (s.b2c.match_on, s.b2b.match_on, s.b2b.match_on_second, s.ean.match_on) == (
        "email",
        "cvr",
        "email",
        "ean",
    )


def test_every_setting_has_a_docstring():
    for model in (CustomerSettings, CustomerDefaults, TypeProfile, CustomFieldMatch, VatZoneRules):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"


def test_settings_survive_the_json_round_trip_of_the_settings_api():
    s = CustomerSettings(
        per_customer_type=True,
        b2b=TypeProfile(match_on="cvr", defaults=CustomerDefaults(customer_group=2, vat_zone=2)),
        vat_zones=VatZoneRules(country_zones={"no": 4}),
        custom_field=CustomFieldMatch(),
        update_fields=("email", "name"),
    )
    assert CustomerSettings.model_validate(s.model_dump(mode="json")) == s


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"match_on": "emial"}, "match_on"),
        ({"unknown_setting": 1}, "Extra inputs are not permitted"),
        ({"defaults": {"customer_group": 1, "colour": "red"}}, "Extra inputs"),
        ({"match_on": "phone", "match_on_second": "phone"}, "must differ"),
        ({"match_on": "custom_field"}, "custom_field"),
        ({"single_customer": True}, "single_customer needs default_customer_number"),
        ({"default_customer_number": 0}, "greater than or equal to 1"),
        ({"default_customer_number": 1_000_000_000}, "less than or equal to 999999999"),
        ({"create_fields": ["name", "email"]}, "must include group, payment_terms, vat_zone"),
        ({"update_fields": ["addresses"]}, "update_addresses"),
        ({"update_addresses": "sometimes"}, "update_addresses"),
        ({"name_format": "{first} {middle}"}, "allowed are"),
        ({"name_format": "{first"}, "not valid"),
        ({"vat_zones": {"home_country": "Denmark"}}, "two-letter country code"),
        ({"vat_zones": {"country_zones": {"NO": 0}}}, "start at 1"),
        ({"per_customer_type": True, "ean": {"match_on": "custom_field"}}, "custom_field"),
        ({"b2b": {"match_on": "cvr", "match_on_second": "cvr"}}, "must differ"),
        ({"customer_number_source": "shop"}, "customer_number_source"),
    ],
)
def test_invalid_settings_are_refused_with_a_reason(body, says):
    with pytest.raises(ValidationError, match=says):
        CustomerSettings.model_validate(body)


def test_type_profiles_only_apply_when_per_customer_type_is_on():
    off = CustomerSettings(b2b=TypeProfile(match_on="cvr"))
    assert off.profile_for("b2b").match_on == "email"
    on = CustomerSettings(per_customer_type=True)
    assert on.profile_for("b2b").match_on == "cvr"
    assert on.profile_for("b2b").defaults == on.defaults  # inherited when not given


# --- match keys ------------------------------------------------------------------------------


def test_email_is_the_default_key_and_is_normalised():
    o = order(email="  Jane.Doe@Example.COM ")
    assert match_key(o, CustomerSettings()) == "email:jane.doe@example.com"
    (key,) = match_keys(o, CustomerSettings())
    assert str(ledger_filter(key)) == "email$like:jane.doe@example.com"


def test_phone_key_is_normalised_whatever_the_spelling():
    settings = CustomerSettings(match_on="phone")
    keys = {
        match_key(order(customer=None, phone=p), settings)
        for p in ("12 34 56 78", "+45 12345678", "004512345678")
    }
    assert keys == {"phone:+4512345678"}


def test_phone_without_prefix_is_read_in_the_buyers_country_else_the_home_country():
    settings = CustomerSettings(match_on="phone")
    swedish = order(
        customer=None,
        phone="070-123 45 67",
        billing_address=address(country="Sweden", country_code="SE"),
    )
    assert match_key(swedish, settings) == "phone:+46701234567"
    no_address = order(customer=None, phone="12345678", billing_address=None, shipping_address=None)
    assert match_key(no_address, settings) == "phone:+4512345678"
    norway_shop = CustomerSettings(match_on="phone", vat_zones=VatZoneRules(home_country="NO"))
    assert match_key(no_address, norway_shop) == "phone:+4712345678"


def test_phone_ledger_lookup_finds_numbers_spelt_differently():
    settings = CustomerSettings(match_on="phone")
    (key,) = match_keys(order(customer=None, phone="+45 12 34 56 78"), settings)
    text = str(ledger_filter(key))
    for spelling in ("telephoneAndFaxNumber$eq:12 34 56 78", "mobilePhone$eq:+4512345678"):
        assert spelling in text
    found = [
        ledger(7, telephoneAndFaxNumber="12 34 56 78"),
        ledger(3, telephoneAndFaxNumber="87654321"),  # filter noise: not the same number
        ledger(9, mobilePhone="0045 1234 5678"),
    ]
    assert pick_ledger_match(key, found) == 7


def test_second_key_is_used_when_the_first_is_missing_or_finds_nothing():
    settings = CustomerSettings(match_on="phone", match_on_second="email")
    with_both = order(phone="+4512345678")
    assert [str(k) for k in match_keys(with_both, settings)] == [
        "phone:+4512345678",
        "email:buyer@example.com",
    ]
    no_phone = order(
        customer=None, billing_address=address(phone=None), shipping_address=address(phone=None)
    )
    assert [str(k) for k in match_keys(no_phone, settings)] == ["email:buyer@example.com"]
    assert match_key(no_phone, settings) == "email:buyer@example.com"


def test_customer_number_key_is_the_shop_customer_id_and_only_looks_in_links_by_default():
    o = order()
    assert o.buyer is not None
    settings = CustomerSettings(match_on="customer_number")
    (key,) = match_keys(o, settings)
    assert str(key) == f"shop-customer:{o.buyer.platform_customer_id}"
    assert ledger_filter(key) is None


def test_customer_number_key_looks_up_the_ledger_number_when_new_customers_take_the_shop_id():
    body = shopify_order()
    body["customer"]["id"] = 4711
    settings = CustomerSettings(
        match_on="customer_number", customer_number_source="shop_customer_id"
    )
    (key,) = match_keys(parse(body), settings)
    assert str(ledger_filter(key)) == "customerNumber$eq:4711"
    assert pick_ledger_match(key, [ledger(4711)]) == 4711


def test_name_key_uses_the_ledger_name_and_never_a_placeholder():
    settings = CustomerSettings(match_on="name")
    (key,) = match_keys(order(), settings)
    assert str(key) == "name:karen jensen"
    assert (
        pick_ledger_match(
            key, [ledger(5, name="Karen Jensen ApS"), ledger(6, name="KAREN  jensen")]
        )
        == 6
    )
    nameless = order(customer=None, billing_address=None, shipping_address=None)
    assert match_keys(nameless, settings) == ()


def test_custom_field_key_matches_a_named_ledger_field():
    settings = CustomerSettings(
        match_on="custom_field",
        custom_field=CustomFieldMatch(
            ledger_field="publicEntryNumber", shop_value="shop_customer_id"
        ),
    )
    o = order()
    assert o.buyer is not None
    shop_id = o.buyer.platform_customer_id
    (key,) = match_keys(o, settings)
    assert str(key) == f"custom-publicEntryNumber:{shop_id}"
    assert str(ledger_filter(key)) == f"publicEntryNumber$eq:{shop_id}"
    assert pick_ledger_match(key, [ledger(12, publicEntryNumber=shop_id)]) == 12
    assert new_customer_fields(o, settings)["public_entry_number"] == shop_id
    no_write = settings.model_copy(update={"custom_field": CustomFieldMatch(write_on_create=False)})
    assert "public_entry_number" not in new_customer_fields(o, no_write)


def test_b2b_buyers_are_matched_on_cvr_against_corporate_identification_number():
    settings = CustomerSettings(per_customer_type=True)
    o = b2b_order()
    keys = match_keys(o, settings)
    assert [str(k) for k in keys] == [f"cvr:{VALID_CVR}", "email:buyer@example.com"]
    text = str(ledger_filter(keys[0]))
    assert f"corporateIdentificationNumber$eq:DK{VALID_CVR}" in text
    found = [
        ledger(30, corporateIdentificationNumber="DK 12 34 56 74"),
        ledger(20, corporateIdentificationNumber="12345674", barred=True),
    ]
    assert pick_ledger_match(keys[0], found) == 30  # barred customers only as a last resort
    assert pick_ledger_match(keys[0], found[1:]) == 20


def test_b2b_without_a_cvr_number_falls_back_to_its_second_key():
    settings = CustomerSettings(
        per_customer_type=True, b2b=TypeProfile(match_on="cvr", match_on_second="phone")
    )
    body = shopify_order(company="Tøj & Co ApS")
    o = get_adapter("shopify").parse_order(shopify_json(body), shop="s")
    assert o.buyer is not None and o.buyer.customer_type == "b2c"  # company alone is not B2B
    assert match_key(o, settings) == "email:buyer@example.com"  # so the B2C profile applies


def test_ean_buyers_are_matched_on_the_ean_number():
    settings = CustomerSettings(per_customer_type=True)
    o = ean_order()
    assert o.buyer is not None and o.buyer.customer_type == "ean"
    (key,) = match_keys(o, settings)
    assert str(key) == f"ean:{VALID_EAN}"
    assert str(ledger_filter(key)) == f"ean$eq:{VALID_EAN}"
    assert pick_ledger_match(key, [ledger(40, ean=VALID_EAN), ledger(41, ean=None)]) == 40


def test_b2c_buyers_use_their_own_profile():
    settings = CustomerSettings(per_customer_type=True, b2c=TypeProfile(match_on="phone"))
    assert match_key(order(), settings) == "phone:+4512345678"
    assert match_key(b2b_order(), settings) == f"cvr:{VALID_CVR}"


def test_an_invalid_danish_cvr_or_ean_used_as_key_stops_with_a_reason():
    settings = CustomerSettings(per_customer_type=True)
    bad_cvr = order(note_attributes={"CVR": "12345678"}, company="Tøj & Co ApS")
    with pytest.raises(
        CustomerDecisionError,
        match="CVR number '12345678' from the order's note attribute 'CVR' is not valid",
    ):
        match_keys(bad_cvr, settings)
    bad_ean = order(note_attributes={"ean_number": "5790000000006"})
    with pytest.raises(
        CustomerDecisionError,
        match=r"EAN number '5790000000006' from the order's note attribute 'ean_number' is not a "
        r"valid EAN number.*replay the order",
    ):
        match_keys(bad_ean, settings)
    # Matching on email does not look at the CVR, but creating the customer would write it.
    assert match_key(bad_cvr, CustomerSettings()) == "email:buyer@example.com"
    with pytest.raises(CustomerDecisionError, match="CVR"):
        new_customer_fields(bad_cvr, CustomerSettings())


def test_foreign_vat_numbers_are_not_checked_as_cvr_numbers():
    settings = CustomerSettings(per_customer_type=True)
    german = order(
        note_attributes={"VAT": "DE 123 456 789"},
        company="Kleider GmbH",
        billing_address=address(country="Germany", country_code="DE", company="Kleider GmbH"),
    )
    (first, _) = match_keys(german, settings)
    assert str(first) == "cvr:DE123456789"
    assert pick_ledger_match(first, [ledger(8, corporateIdentificationNumber="123456789")]) == 8
    fields = new_customer_fields(german, CustomerSettings())
    assert fields["corporate_identification_number"] == "DE123456789"
    assert fields["vat_zone"] == {"vat_zone_number": VatZoneRules().eu_business}


def test_email_match_accepts_a_ledger_field_with_several_addresses_and_any_case():
    (key,) = match_keys(order(email="jane@example.com"), CustomerSettings())
    found = [
        ledger(3, email="xjane@example.com"),  # $like is contains-match: not the same address
        ledger(4, email="Info@Firma.dk; JANE@example.com"),
    ]
    assert pick_ledger_match(key, found) == 4
    assert pick_ledger_match(key, [ledger(3, email="xjane@example.com")]) is None


def test_ledger_match_accepts_customer_models():
    (key,) = match_keys(order(email="jane@example.com"), CustomerSettings())
    customers = [
        Customer.model_validate(
            {
                "customerNumber": n,
                "name": "Jane",
                "currency": "DKK",
                "email": "jane@example.com",
                "customerGroup": {"customerGroupNumber": 1},
                "paymentTerms": {"paymentTermsNumber": 1},
                "vatZone": {"vatZoneNumber": 1},
            }
        )
        for n in (17, 11)
    ]
    assert pick_ledger_match(key, customers) == 11


# --- default customer, single customer, not found --------------------------------------------


def test_orders_without_customer_details_go_to_the_default_customer_or_fail():
    anonymous = order(email=None, customer=None, billing_address=None, shipping_address=None)
    assert anonymous.buyer is None
    booking = fixed_booking(anonymous, CustomerSettings(default_customer_number=99))
    assert booking is not None and booking.customer_number == 99
    assert "no customer details" in booking.explanation
    with pytest.raises(CustomerDecisionError, match="no default customer"):
        fixed_booking(anonymous, CustomerSettings())


def test_orders_without_the_detail_the_keys_need_go_to_the_default_customer():
    no_email = order(email=None, customer=None)
    with pytest.raises(CustomerDecisionError, match="no email address to find the customer by"):
        fixed_booking(no_email, CustomerSettings())
    phone_or_email = CustomerSettings(match_on="phone", match_on_second="email")
    assert fixed_booking(no_email, phone_or_email) is None  # the billing phone will do
    assert fixed_booking(order(), CustomerSettings()) is None


def test_single_customer_collects_every_order_on_the_default_customer():
    settings = CustomerSettings(single_customer=True, default_customer_number=500)
    for o in (order(), b2b_order(), order(email=None, customer=None, billing_address=None)):
        booking = fixed_booking(o, settings)
        assert booking is not None and booking.customer_number == 500


def test_not_found_creates_by_default_or_books_on_the_default_customer():
    keys = match_keys(order(), CustomerSettings())
    assert not_found_booking(keys, CustomerSettings()) is None  # create
    settings = CustomerSettings(create_if_missing=False, default_customer_number=77)
    booking = not_found_booking(keys, settings)
    assert booking is not None and booking.customer_number == 77
    assert "email:buyer@example.com" in booking.explanation
    with pytest.raises(CustomerDecisionError, match="no default customer"):
        not_found_booking(keys, CustomerSettings(create_if_missing=False))


# --- customer number -------------------------------------------------------------------------


def test_customer_number_is_made_by_the_ledger_by_default():
    assert new_customer_number(order(), CustomerSettings()) is None
    assert "customer_number" not in new_customer_fields(order(), CustomerSettings())


def test_customer_number_from_the_shop_customer_id():
    settings = CustomerSettings(customer_number_source="shop_customer_id")
    body = shopify_order()
    body["customer"]["id"] = 4711
    assert new_customer_fields(parse(body), settings)["customer_number"] == 4711
    with pytest.raises(CustomerDecisionError, match="largest is 999999999"):
        new_customer_number(order(), settings)  # Shopify's real ids are far too large
    with pytest.raises(CustomerDecisionError, match="guest checkout"):
        new_customer_number(order(customer=None), settings)


# --- names -----------------------------------------------------------------------------------


def test_names_follow_the_configured_formats():
    assert customer_name(order()) == "Karen Jensen"
    assert (
        customer_name(order(), CustomerSettings(name_format="{last}, {first}")) == "Jensen, Karen"
    )
    assert customer_name(b2b_order()) == "Tøj & Co ApS"
    company_fmt = CustomerSettings(company_name_format="{company} (att. {first} {last})")
    assert customer_name(b2b_order(), company_fmt) == "Tøj & Co ApS (att. Karen Jensen)"
    assert customer_name(ean_order()) == "Aarhus Kommune"


def test_names_drop_dangling_separators_and_fall_back_when_empty():
    no_first = order(
        customer=None,
        billing_address=address(first_name=None, name="Jensen"),
        shipping_address=None,
    )
    assert customer_name(no_first, CustomerSettings(name_format="{last}, {first}")) == "Jensen"
    nameless = order(customer=None, billing_address=None, shipping_address=None)
    assert customer_name(nameless) == "buyer@example.com"
    anonymous = order(email=None, customer=None, billing_address=None, shipping_address=None)
    assert customer_name(anonymous) == f"Webshop customer {anonymous.order_name}"
    b2b_without_company = order(note_attributes={"CVR": VALID_CVR})
    assert customer_name(b2b_without_company) == "Karen Jensen"


# --- VAT zones -------------------------------------------------------------------------------


def test_vat_zone_rules():
    rules = VatZoneRules()
    assert vat_zone_for("DK", "b2c", rules) == rules.domestic
    assert vat_zone_for("dk", "b2b", rules) == rules.domestic
    assert vat_zone_for("DE", "b2b", rules) == rules.eu_business
    assert vat_zone_for("DE", "b2b", rules, has_vat_number=False) == rules.eu_private
    assert vat_zone_for("DE", "b2c", rules, has_vat_number=True) == rules.eu_business
    assert vat_zone_for("FR", "b2c", rules) == rules.eu_private
    assert vat_zone_for("NO", "b2b", rules) == rules.abroad
    assert vat_zone_for("GL", "b2c", rules) == rules.abroad  # Greenland is outside the EU
    assert vat_zone_for(None, "b2c", rules) == rules.domestic


def test_vat_zone_rules_are_data():
    rules = VatZoneRules(
        home_country="se", domestic=10, eu_private=11, abroad=13, country_zones={"NO": 20}
    )
    assert vat_zone_for("SE", "b2c", rules) == 10
    assert vat_zone_for("DK", "b2c", rules) == 11
    assert vat_zone_for("NO", "b2c", rules) == 20
    assert vat_zone_for("US", "b2c", rules) == 13
    brexit_undone = VatZoneRules(eu_countries=frozenset({"DK", "GB"}))
    assert vat_zone_for("GB", "b2c", brexit_undone) == brexit_undone.eu_private
    assert vat_zone_for("DE", "b2c", brexit_undone) == brexit_undone.abroad


def test_new_customer_vat_zone_comes_from_billing_country_and_vat_number():
    settings = CustomerSettings()
    german_company_no_vat = order(
        company="Kleider GmbH",
        billing_address=address(country="Germany", country_code="DE", company="Kleider GmbH"),
    )
    assert vat_zone_number(german_company_no_vat, settings) == settings.vat_zones.eu_private
    us = order(billing_address=address(country="United States", country_code="US"))
    assert vat_zone_number(us, settings) == settings.vat_zones.abroad
    fixed = CustomerSettings(defaults=CustomerDefaults(vat_zone=9))
    assert vat_zone_number(us, fixed) == 9


# --- fields on create ------------------------------------------------------------------------


def test_new_customer_fields_from_defaults_per_customer_type():
    settings = CustomerSettings(
        per_customer_type=True,
        defaults=CustomerDefaults(customer_group=1, payment_terms=1),
        b2b=TypeProfile(
            match_on="cvr", defaults=CustomerDefaults(customer_group=2, payment_terms=3, layout=5)
        ),
        ean=TypeProfile(
            match_on="ean",
            defaults=CustomerDefaults(customer_group=3, payment_terms=4, layout=6, vat_zone=1),
        ),
    )
    b2c = new_customer_fields(order(), settings)
    assert b2c["customer_group"] == {"customer_group_number": 1}
    assert "layout" not in b2c
    b2b = new_customer_fields(b2b_order(), settings)
    assert b2b["customer_group"] == {"customer_group_number": 2}
    assert b2b["payment_terms"] == {"payment_terms_number": 3}
    assert b2b["layout"] == {"layout_number": 5}
    assert b2b["corporate_identification_number"] == VALID_CVR
    ean = new_customer_fields(
        ean_order(billing_address=address(country="Sweden", country_code="SE")), settings
    )
    assert ean["customer_group"] == {"customer_group_number": 3}
    assert ean["vat_zone"] == {"vat_zone_number": 1}  # fixed, not by rule
    assert ean["ean"] == VALID_EAN
    CustomerCreate.model_validate(ean)  # the body e-conomic gets


def test_new_customer_fields_write_all_by_default_and_normalised():
    fields = new_customer_fields(
        order(email="Jane@Example.com", phone="12 34 56 78"), CustomerSettings()
    )
    assert fields == {
        "currency": "DKK",
        "name": "Karen Jensen",
        "email": "jane@example.com",
        "telephone_and_fax_number": "+4512345678",
        "customer_group": {"customer_group_number": 1},
        "payment_terms": {"payment_terms_number": 1},
        "vat_zone": {"vat_zone_number": 1},
        "address": "Vestergade 1",
        "zip": "1456",
        "city": "København K",
        "country": "Denmark",
    }


def test_create_fields_limit_what_a_new_customer_gets():
    settings = CustomerSettings(create_fields=("name", "group", "payment_terms", "vat_zone"))
    fields = new_customer_fields(b2b_order(), settings)
    assert set(fields) == {"currency", "name", "customer_group", "payment_terms", "vat_zone"}
    CustomerCreate.model_validate(fields)


def test_an_ean_buyer_needs_a_valid_ean_even_when_it_is_not_written():
    settings = CustomerSettings(create_fields=("name", "group", "payment_terms", "vat_zone"))
    with pytest.raises(CustomerDecisionError, match="EAN"):
        new_customer_fields(order(note_attributes={"EAN": "5790000000006"}), settings)


# --- fields on update ------------------------------------------------------------------------


EXISTING = {
    "customerNumber": 10,
    "name": "Karen Jensen",
    "email": "KAREN@old.dk",
    "telephoneAndFaxNumber": "12 34 56 78",
    "address": "Gammel Vej 2",
    "zip": "8000",
    "city": "Aarhus C",
    "country": "Denmark",
    "customerGroup": {"customerGroupNumber": 1},
    "paymentTerms": {"paymentTermsNumber": 1},
    "vatZone": {"vatZoneNumber": 1},
}


def test_nothing_is_updated_by_default():
    assert fields_to_update(EXISTING, order(email="new@example.com"), CustomerSettings()) == {}


def test_only_allowed_and_changed_fields_are_updated():
    settings = CustomerSettings(update_fields=("name", "email", "phone", "vat_zone", "group"))
    changes = fields_to_update(EXISTING, order(email="new@example.com"), settings)
    assert changes == {"email": "new@example.com"}  # same name, phone (spelt differently), zone
    same_email = fields_to_update(EXISTING, order(email="karen@OLD.dk"), settings)
    assert same_email == {}
    moved = order(billing_address=address(country="Norway", country_code="NO"))
    assert fields_to_update(EXISTING, moved, settings)["vat_zone"] == {"vat_zone_number": 3}


def test_update_never_clears_a_value_the_order_lacks():
    settings = CustomerSettings(update_fields=("email", "phone", "cvr", "ean"))
    no_details = order(email=None, customer=None, billing_address=address(phone=None))
    assert fields_to_update(EXISTING, no_details, settings) == {}


def test_update_accepts_snake_case_customer_dumps_and_writes_cvr_and_ean():
    settings = CustomerSettings(update_fields=("cvr", "ean", "payment_terms"))
    existing = Customer.model_validate({**EXISTING, "currency": "DKK"}).model_dump()
    changes = fields_to_update(
        existing, ean_order(note_attributes={"EAN": VALID_EAN, "CVR": VALID_CVR}), settings
    )
    assert changes == {"corporate_identification_number": VALID_CVR, "ean": VALID_EAN}
    existing["corporate_identification_number"] = "DK12345674"
    existing["payment_terms"] = {"payment_terms_number": 4}
    changes = fields_to_update(
        existing, ean_order(note_attributes={"EAN": VALID_EAN, "CVR": VALID_CVR}), settings
    )
    assert changes == {"ean": VALID_EAN, "payment_terms": {"payment_terms_number": 1}}


def test_update_addresses_billing_changes_the_customer_address():
    settings = CustomerSettings(update_addresses="billing")
    changes = fields_to_update(EXISTING, order(), settings)
    assert changes == {"address": "Vestergade 1", "zip": "1456", "city": "København K"}
    merged = CustomerCreate.model_validate(
        {
            **Customer.model_validate({**EXISTING, "currency": "DKK"}).to_create().model_dump(),
            **changes,
        }
    )
    assert merged.city == "København K"
    assert delivery_location_for([], order(), settings) is None
    assert fields_to_update(EXISTING, order(), CustomerSettings(update_addresses="shipping")) == {}


def test_update_addresses_shipping_adds_a_delivery_location_once():
    settings = CustomerSettings(update_addresses="shipping")
    ship_to = address(address1="Havnegade 5", zip="5000", city="Odense C")
    o = order(shipping_address=ship_to)
    location = delivery_location_for([], o, settings)
    assert location == {
        "address": "Havnegade 5",
        "postal_code": "5000",
        "city": "Odense C",
        "country": "Denmark",
    }
    existing = [
        {"address": "havnegade 5", "postalCode": "5000", "city": "Odense C", "country": "Denmark"}
    ]
    assert delivery_location_for(existing, o, settings) is None
    assert delivery_location_for([], order(shipping_address=None), settings) is None


def test_update_addresses_both():
    settings = CustomerSettings(update_addresses="both")
    o = order(shipping_address=address(address1="Havnegade 5"))
    assert fields_to_update(EXISTING, o, settings)["address"] == "Vestergade 1"
    assert delivery_location_for([], o, settings) is not None
    assert delivery_location_for([], o, CustomerSettings()) is None


def test_decision_errors_park_the_order_with_the_reason():
    assert issubclass(CustomerDecisionError, PermanentError)
    with pytest.raises(PermanentError) as caught:
        validate_cvr("12345678")
    assert caught.value.reason.startswith("The CVR number '12345678' is not valid")


def test_the_settings_examples_in_the_docs_are_valid():
    text = (Path(__file__).resolve().parents[2] / "docs" / "customers-settings.md").read_text()
    examples = re.findall(r"```json\n(.*?)```", text, re.S)
    assert len(examples) >= 5
    for example in examples:
        CustomerSettings.model_validate(json.loads(example))
