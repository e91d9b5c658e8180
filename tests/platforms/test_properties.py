"""Property tests: whatever arrives, the parsers fail only with PayloadError."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lb_connectors.platforms import PayloadError, shopify, woocommerce
from lb_connectors.platforms._reader import load, load_id

from .factories import fixture, shopify_json, shopify_order, woocommerce_json, woocommerce_order

ADAPTERS = (shopify, woocommerce)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


CALLS: tuple[Callable[[bytes], object], ...] = (
    *(
        call
        for adapter in ADAPTERS
        for call in (
            partial(adapter.parse_order, shop="s"),
            adapter.order_kind,
            adapter.parse_order_id,
            partial(adapter.parse_refunds_from_order, shop="s"),
        )
    ),
    partial(shopify.parse_refund, shop="s"),
    shopify.parse_inventory_level,
)


def _only_payload_errors(raw: bytes) -> None:
    for call in CALLS:
        try:
            call(raw)
        except PayloadError:
            pass


@given(st.binary(max_size=200))
def test_arbitrary_bytes(raw: bytes) -> None:
    _only_payload_errors(raw)


def test_a_number_no_decimal_can_hold_is_a_payload_error() -> None:
    # Decimal refuses exponents beyond its context; that must not surface as a server error.
    raw = b'{"id": 1, "total_price": 1e9999999999999999999999999}'
    _only_payload_errors(raw)
    with pytest.raises(PayloadError, match="out of range"):
        shopify.parse_order(raw, shop="s")


@given(st.dictionaries(st.text(max_size=15), json_values, max_size=8))
def test_arbitrary_json_objects(obj: dict[str, Any]) -> None:
    _only_payload_errors(json.dumps(obj).encode())


def _mutations(base: dict[str, Any]):
    """Real order bodies with one top-level field or one line field replaced by junk."""
    line_keys = sorted(base["line_items"][0])
    return st.tuples(
        st.sampled_from(sorted(base)), st.sampled_from(line_keys), json_values, st.booleans()
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations(shopify_order(shipping="39.00", refunds=[])))
def test_mutated_shopify_orders(mutation) -> None:
    key, line_key, value, in_line = mutation
    body = shopify_order(shipping="39.00")
    if in_line:
        body["line_items"][0][line_key] = value
    else:
        body[key] = value
    _only_payload_errors(shopify_json(body))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations(woocommerce_order()))
def test_mutated_woocommerce_orders(mutation) -> None:
    key, line_key, value, in_line = mutation
    body = woocommerce_order()
    if in_line:
        body["line_items"][0][line_key] = value
    else:
        body[key] = value
    _only_payload_errors(woocommerce_json(body))


def test_deeply_nested_and_huge_numbers() -> None:
    _only_payload_errors(b"[" * 100_000)
    _only_payload_errors(b'{"id": ' + b"9" * 5000 + b"}")
    body = shopify_order()
    body["total_price"] = "1e999999"
    _only_payload_errors(shopify_json(body))
    body = shopify_order()
    body["line_items"][0]["price"] = 1e300
    _only_payload_errors(shopify_json(body))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


REAL_BODIES = [
    json.loads(fixture("shopify_orders_create_discounts_HKD.json")),
    json.loads(fixture("shopify_refunds_create_VND.json")),
    json.loads(fixture("woocommerce_order_v3.json")),
]
REAL_PATHS = [(i, path) for i, body in enumerate(REAL_BODIES) for path in _paths(body)]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(REAL_PATHS), json_values)
def test_any_field_of_a_real_body_replaced_by_junk(where, value) -> None:
    index, path = where
    body = copy.deepcopy(REAL_BODIES[index])
    node = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    _only_payload_errors(json.dumps(body).encode())


def _id_or_error(read: Callable[[bytes], str], raw: bytes) -> str:
    try:
        return read(raw)
    except PayloadError as exc:
        return f"error: {exc}"


@given(
    st.dictionaries(st.text(max_size=15), json_values, max_size=8)
    | st.fixed_dictionaries({"id": json_values})
    | st.fixed_dictionaries({"id": st.integers() | st.text(max_size=5) | st.booleans()})
)
def test_an_order_id_read_alone_is_the_id_read_with_the_order(obj: dict[str, Any]) -> None:
    # ingest's web processes admit an order by its id alone (load_id): the same id, or the
    # same error, as reading the whole order.
    raw = json.dumps(obj).encode()
    assert _id_or_error(load_id, raw) == _id_or_error(lambda b: load(b).ident("id"), raw)


@given(st.binary(max_size=200))
def test_an_order_id_read_alone_from_any_bytes(raw: bytes) -> None:
    assert _id_or_error(load_id, raw) == _id_or_error(lambda b: load(b).ident("id"), raw)
