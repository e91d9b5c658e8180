"""Each service's OpenAPI states its parameters' bounds and links its lists to their items, which
is what `make fuzz-api` (and any client) reads (issue #17)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lb_common.admin_params import INT64_MAX
from scripts.service_parts import built_services


@pytest.fixture(scope="module")
def specs() -> dict[str, dict[str, Any]]:
    with built_services() as services:
        return {s.name: s.parts.app_factory().openapi() for s in services}


def _parameters(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                # `int | None` is an anyOf of the integer and null
                for option in schema.get("anyOf", [schema]):
                    if option.get("type") != "null":
                        yield f"{method.upper()} {path}", parameter, option


def test_every_integer_parameter_is_bounded(specs: dict[str, dict[str, Any]]) -> None:
    unbounded = [
        (service, operation, parameter["name"])
        for service, spec in specs.items()
        for operation, parameter, schema in _parameters(spec)
        if schema.get("type") in ("integer", "number")
        and not (
            -INT64_MAX - 1 <= schema.get("minimum", -(2**64)) <= schema.get("maximum", 2**64)
            and schema.get("maximum", 2**64) <= INT64_MAX
        )
    ]
    assert unbounded == []


def test_pages_are_one_to_a_stated_maximum_from_zero(specs: dict[str, dict[str, Any]]) -> None:
    for service, spec in specs.items():
        for operation, parameter, schema in _parameters(spec):
            if parameter["name"] == "limit":
                assert schema["minimum"] == 1 and schema["maximum"] >= 1, (service, operation)
            if parameter["name"] == "offset":
                assert schema["minimum"] == 0 and schema["maximum"] == INT64_MAX


@pytest.mark.parametrize(
    ("service", "list_route", "item_route"),
    [
        ("ingest", "/orders", "/orders/{order_key}"),
        ("ingest", "/deliveries", "/deliveries/{delivery_id}/body"),
        ("ingest", "/parked", "/parked/{message_id}/retry"),
        ("customers", "/links", "/links/{connection}/{match_key}"),
        ("invoicing", "/invoices", "/invoices/{order_key}"),
        ("invoicing", "/credit-notes", "/invoices/{order_key}"),
        ("inventory", "/mismatches", "/mismatches/level_differs/{sku}/resolve"),
    ],
)
def test_lists_link_to_their_items(
    specs: dict[str, dict[str, Any]], service: str, list_route: str, item_route: str
) -> None:
    spec = specs[service]
    answer = spec["paths"][list_route]["get"]["responses"]["200"]
    refs = {link["operationRef"] for link in answer["links"].values()}
    pointer = item_route.replace("/", "~1")
    targets = [ref for ref in refs if ref.startswith(f"#/paths/{pointer}/")]
    assert targets, refs
    for ref in targets:  # the reference resolves to a real operation
        method = ref.rsplit("/", 1)[1]
        assert method in spec["paths"][item_route]
