"""The sandbox's GraphQL Admin API keeps Shopify's documented contract: documents validated
against the schema, calculated query cost with the plan's bucket (THROTTLED with HTTP 200),
2026-04's compare-and-set rules, idempotency keys, bulk operations and their JSONL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import build_schema, parse, validate

from lb_connectors.shopify_admin.documents import document, names
from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings
from lb_sandbox.shopify.bulk import check_query
from lb_sandbox.shopify.graphql_api import SCHEMA_FILE, schema

VERSION = "2026-10"


@pytest.fixture
def token() -> str:
    return f"shop-{uuid.uuid4().hex}"


@pytest.fixture
async def shop(token: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SandboxSettings(shopify_bulk_delay_seconds=0.05))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sandbox",
        headers={"X-Shopify-Access-Token": token},
    ) as client:
        yield client


async def gql(client: httpx.AsyncClient, text: str, /, **variables: Any) -> dict[str, Any]:
    response = await client.post(
        f"/shopify/admin/api/{VERSION}/graphql.json",
        json={"query": text, "variables": variables},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_document_we_send_is_valid_against_the_schema():
    sdl = build_schema(SCHEMA_FILE.read_text())
    assert names(), "no documents found"
    for name in names():
        errors = validate(sdl, parse(document(name)))
        assert errors == [], f"{name}: {errors}"


def test_the_schema_names_its_source():
    assert "shopify.dev/docs/api/admin-graphql/2026-10" in SCHEMA_FILE.read_text()


async def test_a_misspelt_field_is_refused_with_http_200(shop):
    body = await gql(shop, "{ locations(first: 5) { nodes { id nmae } } }")
    assert "data" not in body or body.get("data") is None
    assert "nmae" in body["errors"][0]["message"]


async def test_each_answer_carries_its_cost(shop):
    body = await gql(shop, "{ locations(first: 10) { nodes { id name } } }")
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 10  # a connection: 2 + one per node asked
    assert cost["actualQueryCost"] == 2 + 1  # one location returned
    status = cost["throttleStatus"]
    assert status["maximumAvailable"] == 2000 and status["restoreRate"] == 100  # standard plan


async def test_a_query_over_1000_points_is_refused(shop):
    query = (
        "{ productVariants(first: 250) { nodes { inventoryItem { "
        "inventoryLevels(first: 10) { nodes { id } } } } } }"
    )
    body = await gql(shop, query)
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


async def test_an_empty_bucket_answers_throttled_with_http_200(shop, token):
    await shop.post(f"/_sandbox/shopify/{token}/faults", json={"kind": "throttled"})
    body = await gql(shop, "{ locations(first: 1) { nodes { id } } }")
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 3


async def set_quantity(shop, item: str, location: str, quantity: int, key: str, **extra: Any):
    q = {"inventoryItemId": item, "locationId": location, "quantity": quantity, **extra}
    body = await gql(
        shop,
        document("InventorySetQuantities"),
        input={"name": "available", "reason": "correction", "quantities": [q]},
        idempotencyKey=key,
    )
    return body["data"]["inventorySetQuantities"]


async def first_item(shop) -> tuple[str, str]:
    body = await gql(
        shop,
        "{ locations(first: 1) { nodes { id } } "
        "productVariants(first: 1) { nodes { inventoryItem { id } } } }",
    )
    location = body["data"]["locations"]["nodes"][0]["id"]
    item = body["data"]["productVariants"]["nodes"][0]["inventoryItem"]["id"]
    return item, location


async def test_set_quantities_compares_before_it_sets(shop):
    item, location = await first_item(shop)  # TSHIRT-RED-M, 50 available
    stale = await set_quantity(shop, item, location, 7, "k1", changeFromQuantity=49)
    assert stale["inventoryAdjustmentGroup"] is None
    assert stale["userErrors"][0]["code"] == "CHANGE_FROM_QUANTITY_STALE"
    assert stale["userErrors"][0]["field"] == ["input", "quantities", "0", "changeFromQuantity"]
    done = await set_quantity(shop, item, location, 7, "k2", changeFromQuantity=50)
    assert done["userErrors"] == []
    assert done["inventoryAdjustmentGroup"]["changes"][0]["delta"] == -43


async def test_2026_04_requires_change_from_quantity_and_dropped_compare_quantity(shop):
    item, location = await first_item(shop)
    missing = await set_quantity(shop, item, location, 7, "k1")
    assert missing["userErrors"][0]["field"][-1] == "changeFromQuantity"
    old = await gql(
        shop,
        document("InventorySetQuantities"),
        input={
            "name": "available",
            "reason": "correction",
            "quantities": [
                {
                    "inventoryItemId": item,
                    "locationId": location,
                    "quantity": 1,
                    "compareQuantity": 50,
                }
            ],
        },
        idempotencyKey="k2",
    )
    assert "compareQuantity" in old["errors"][0]["message"]


async def test_a_repeated_idempotency_key_is_applied_once(shop, token):
    item, location = await first_item(shop)
    first = await set_quantity(shop, item, location, 7, "same", changeFromQuantity=50)
    # The merchant changes it; our retry of the same request must not set 7 again.
    await shop.post(
        f"/_sandbox/shopify/{token}/levels",
        json={"inventory_item_id": int(item.rsplit("/", 1)[1]), "available": 10},
    )
    again = await set_quantity(shop, item, location, 7, "same", changeFromQuantity=50)
    assert again["userErrors"] == [] and again == first
    levels = (await shop.get(f"/_sandbox/shopify/{token}/levels")).json()["inventory_levels"]
    assert 10 in [lv["available"] for lv in levels]
    other = await set_quantity(shop, item, location, 8, "same", changeFromQuantity=10)
    assert other["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"


def test_bulk_queries_are_checked_as_shopify_does():
    sdl = schema()
    assert check_query(sdl, document("StockBulkQuery")) is None
    three_deep = (
        "{ productVariants { edges { node { inventoryItem { inventoryLevels { edges { node { "
        "location { id } } } } } } } } }"
    )
    assert check_query(sdl, three_deep) is None  # two connections deep: allowed
    assert "at least one connection" in (
        check_query(sdl, '{ bulkOperation(id: "x") { id } }') or ""
    )
    assert "Invalid" in (check_query(sdl, "{ productVariants { edges { node { nope } } } }") or "")


async def test_a_bulk_operation_runs_in_the_background_and_serves_jsonl(shop, token):
    started = await gql(shop, document("BulkOperationRunQuery"), query=document("StockBulkQuery"))
    op = started["data"]["bulkOperationRunQuery"]["bulkOperation"]
    assert op["status"] == "CREATED" and op["url"] is None
    for _ in range(100):
        polled = await gql(shop, document("BulkOperation"), id=op["id"])
        op = polled["data"]["bulkOperation"]
        if op["status"] == "COMPLETED":
            break
        await asyncio.sleep(0.02)
    assert op["status"] == "COMPLETED" and op["rootObjectCount"] == "2"
    # The result URL is storage, not the shop: it needs no token.
    async with httpx.AsyncClient(transport=shop._transport) as anonymous:
        result = await anonymous.get(op["url"])
    lines = [json.loads(line) for line in result.text.splitlines()]
    variants = [line for line in lines if "__parentId" not in line]
    levels = [line for line in lines if "__parentId" in line]
    assert {v["sku"] for v in variants} == {"TSHIRT-RED-M", "MUG-BLACK"}
    assert {lv["__parentId"] for lv in levels} == {v["id"] for v in variants}
    assert sorted(lv["quantities"][0]["quantity"] for lv in levels) == [20, 50]


async def test_missing_token_and_unknown_version(shop):
    anonymous = await shop.post(
        f"/shopify/admin/api/{VERSION}/graphql.json",
        json={"query": "{ locations(first: 1) { nodes { id } } }"},
        headers={"X-Shopify-Access-Token": ""},
    )
    assert anonymous.status_code == 401
    unknown = await shop.post(
        "/shopify/admin/api/2026-13/graphql.json", json={"query": "{ __typename }"}
    )
    assert unknown.status_code == 404
    older = await shop.post(
        "/shopify/admin/api/2025-01/graphql.json",
        json={"query": "{ locations(first: 1) { nodes { id } } }"},
    )
    assert older.headers["X-Shopify-API-Version"] == "2026-04"  # falls forward


SUBSCRIBE = """mutation($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id uri } userErrors { field message } } }"""


async def _subscribe(client: httpx.AsyncClient, uri: str) -> dict[str, Any]:
    body = await gql(client, SUBSCRIBE, topic="ORDERS_PAID", uri=uri)
    answer: dict[str, Any] = body["data"]["webhookSubscriptionCreate"]
    return answer


async def test_a_webhook_address_must_be_https_as_shopify_requires(shop):
    for uri in ("http://127.0.0.1:8001/webhooks/shopify/demo", "http://bridge.example/hooks"):
        refused = await _subscribe(shop, uri)
        assert refused["webhookSubscription"] is None
        assert refused["userErrors"] == [
            {"field": ["webhookSubscription", "uri"], "message": "Address is invalid"}
        ]
    made = await _subscribe(shop, "https://bridge.example/webhooks/shopify/demo")
    assert made["userErrors"] == [] and made["webhookSubscription"]["uri"].startswith("https://")


async def test_make_up_s_setting_lets_http_on_loopback_in_and_nothing_else(token):
    app = create_app(SandboxSettings(shopify_allow_http_loopback_webhooks=True))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sandbox",
        headers={"X-Shopify-Access-Token": token},
    ) as client:
        for uri in (
            "http://127.0.0.1:8001/webhooks/shopify/demo",
            "http://localhost:8001/webhooks/shopify/demo",
            "http://[::1]:8001/webhooks/shopify/demo",
        ):
            made = await _subscribe(client, uri)
            assert made["userErrors"] == [], uri
        for uri in ("http://bridge.example/hooks", "http://10.0.0.5/hooks", "ftp://127.0.0.1/x"):
            refused = await _subscribe(client, uri)
            assert refused["userErrors"][0]["message"] == "Address is invalid", uri
