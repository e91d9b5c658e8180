"""docs/customers-settings.md "Passing CVR and EAN numbers" and the adapters agree: every name
the adapters read by default is documented, and the worked examples parse to the numbers the
page promises."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lb_common.identifiers import normalise_ean, normalise_vat_number
from lb_connectors.platforms import CustomerFieldMap, shopify, woocommerce

from .factories import shopify_json, shopify_order, woocommerce_json, woocommerce_order

DOC = Path(__file__).resolve().parents[2] / "docs" / "customers-settings.md"


def _section() -> str:
    text = DOC.read_text()
    start = text.index("### Passing CVR and EAN numbers")
    return text[start : text.index("\n### ", start + 1)]


@pytest.mark.parametrize(
    "names",
    [
        CustomerFieldMap().shopify_vat_attributes,
        CustomerFieldMap().shopify_ean_attributes,
        CustomerFieldMap().woocommerce_vat_meta_keys,
        CustomerFieldMap().woocommerce_ean_meta_keys,
    ],
)
def test_every_default_name_is_documented(names: tuple[str, ...]):
    prose = re.sub(r"```.*?```", "", _section(), flags=re.S)
    documented = {n.casefold() for n in re.findall(r"`([^`]+)`", prose)}
    assert {n.casefold() for n in names} <= documented


def _example(platform: str) -> dict:
    [found] = re.findall(rf"```json {platform}-order\n(.*?)```", _section(), re.S)
    return json.loads(found)


def test_the_shopify_example_gives_the_documented_numbers():
    body = shopify_order(company="Kommunen", **_example("shopify"))
    buyer = shopify.parse_order(shopify_json(body), shop="s").buyer
    assert buyer is not None and buyer.customer_type == "ean"
    assert normalise_vat_number(buyer.vat_number) == "12345674"
    assert normalise_ean(buyer.ean) == "5790000000005"


def test_the_woocommerce_example_gives_the_documented_numbers():
    body = woocommerce_order(company="Kommunen", **_example("woocommerce"))
    buyer = woocommerce.parse_order(woocommerce_json(body), shop="w").buyer
    assert buyer is not None and buyer.customer_type == "ean"
    assert normalise_vat_number(buyer.vat_number) == "12345674"
    assert normalise_ean(buyer.ean) == "5790000000005"
