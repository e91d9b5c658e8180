"""Shopify refunds/create and inventory_levels/update bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from lb_connectors.platforms import PayloadError, shopify

from .factories import fixture, shopify_json, shopify_order

VND = "shopify_refunds_create_VND.json"


def _refund(**overrides) -> dict:
    body = json.loads(fixture(VND))
    body.update(overrides)
    return body


def test_vnd_refund_fixture() -> None:
    order_id, refund = shopify.parse_refund(fixture(VND), shop="s.myshopify.com")

    assert order_id == "6273085767965"
    assert refund.refund_id == "1002961240349"
    assert refund.currency == "VND"
    assert refund.created_at == "2024-08-20T15:19:18+00:00"
    assert refund.total == Decimal("20")
    [line] = refund.lines
    assert line.line_id == "16014782595357"
    assert line.sku is None
    # `subtotal` / `total_tax` are JSON numbers in this body; they must not go via float.
    assert type(line.subtotal) is Decimal and line.subtotal == Decimal("20")
    assert type(line.tax) is Decimal and line.tax == Decimal("0")
    assert line.quantity == Decimal("1")
    assert line.restock is True  # restock_type "cancel"
    assert refund.shipping == Decimal("0") and refund.adjustments == Decimal("0")


def test_fractional_json_numbers_stay_exact() -> None:
    raw = fixture(VND).replace(b'"subtotal": 20', b'"subtotal": 195.66')
    raw = raw.replace(b'"total_tax": 0,', b'"total_tax": 3.98,')
    _, refund = shopify.parse_refund(raw, shop="s")
    assert refund.lines[0].subtotal == Decimal("195.66")
    assert refund.lines[0].tax == Decimal("3.98")


def test_total_falls_back_to_lines_when_no_successful_transaction() -> None:
    body = _refund()
    body["transactions"][0]["status"] = "failure"
    body["refund_line_items"][0]["total_tax"] = 5
    _, refund = shopify.parse_refund(shopify_json(body), shop="s")
    assert refund.total == Decimal("25")


def test_transactions_in_another_currency_are_not_summed() -> None:
    body = _refund()
    body["transactions"][0].update(currency="USD", amount="0.01")
    _, refund = shopify.parse_refund(shopify_json(body), shop="s")
    assert refund.total == Decimal("20")


def test_amount_only_and_shipping_adjustments_are_positive_refunds() -> None:
    body = _refund(
        refund_line_items=[],
        order_adjustments=[
            {"id": 1, "amount": "-15.00", "tax_amount": "0.00", "kind": "refund_discrepancy"},
            {"id": 2, "amount": "-39.00", "tax_amount": "0.00", "kind": "shipping_refund"},
        ],
        transactions=[],
    )
    body["total_duties_set"]["shop_money"]["currency_code"] = "DKK"
    _, refund = shopify.parse_refund(shopify_json(body), shop="s")
    assert refund.currency == "DKK"
    assert refund.adjustments == Decimal("15.00")
    assert refund.shipping == Decimal("39.00")
    assert refund.total == Decimal("54.00")


def test_no_restock_line() -> None:
    body = _refund()
    body["refund_line_items"][0]["restock_type"] = "no_restock"
    _, refund = shopify.parse_refund(shopify_json(body), shop="s")
    assert refund.lines[0].restock is False


def test_refunds_embedded_in_an_order() -> None:
    body = shopify_order(currency="VND", refunds=[_refund()])
    [refund] = shopify.parse_refunds_from_order(shopify_json(body), shop="s")
    assert refund.refund_id == "1002961240349"
    assert refund.total == Decimal("20")


def test_refund_error_names_the_field() -> None:
    body = _refund()
    body["refund_line_items"][0]["subtotal"] = "x"
    with pytest.raises(
        PayloadError, match=r"^refund_line_items\[0\]\.subtotal: 'x' is not a number"
    ):
        shopify.parse_refund(shopify_json(body), shop="s")


def test_inventory_level_fixture() -> None:
    level = shopify.parse_inventory_level(fixture("shopify_inventory_levels_update.json"))
    assert level.inventory_item_id == "808950810"
    assert level.location_id == "655441491"
    assert level.available == 42
    assert level.updated_at == datetime(2024, 1, 2, 13, 57, 24, tzinfo=UTC)


def test_inventory_level_untracked_and_big_ids() -> None:
    raw = json.dumps(
        {
            "inventory_item_id": 2**60,
            "location_id": "77",
            "available": None,
            "updated_at": "2024-01-02T08:57:24Z",
        }
    ).encode()
    level = shopify.parse_inventory_level(raw)
    assert level.inventory_item_id == str(2**60)
    assert level.available is None
