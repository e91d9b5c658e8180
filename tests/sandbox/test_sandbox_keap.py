"""The sandbox's Keap: REST hooks (handshake, ids-only deliveries, Inactive after failures,
re-verify), orders and contacts by id, orders since a time, quotas and authentication, each as
Keap documents them (shared/reference/qbo-keap.md, section 6)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from lb_sandbox.app import create_app

API = "/keap/crm/rest/v1"


class Subscriber:
    """A hook receiver: echoes the handshake (unless told not to), answers deliveries with
    `status`, and keeps what it received."""

    def __init__(self) -> None:
        self.echo = True
        self.status = 200
        self.received: list[dict[str, Any]] = []
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            secret = request.headers.get("X-Hook-Secret")
            if secret is not None:
                headers = {"X-Hook-Secret": secret} if self.echo else {}
                return Response(status_code=200, headers=headers)
            self.received.append(await request.json())
            return JSONResponse({}, status_code=self.status)


@pytest.fixture
def subscriber() -> Subscriber:
    return Subscriber()


@pytest.fixture
def key() -> str:
    return f"sak-{uuid.uuid4().hex}"


@pytest.fixture
async def keap(subscriber: Subscriber, key: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app()
    app.state.keap_hook_transport = httpx.ASGITransport(app=subscriber.app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sandbox",
        headers={"X-Keap-API-Key": key},
    ) as client:
        yield client


async def _order(keap: httpx.AsyncClient, key: str, **extra: Any) -> dict[str, Any]:
    contact = (
        await keap.post(
            f"/_sandbox/keap/{key}/contacts",
            json={
                "given_name": "Ada",
                "family_name": "Lovelace",
                "email_addresses": [{"email": "ada@example.com", "field": "EMAIL1"}],
            },
        )
    ).json()
    answer = await keap.put(
        f"/_sandbox/keap/{key}/orders",
        json={
            "contact_id": contact["id"],
            "status": "PAID",
            "order_items": [
                {"name": "Mug", "price": 12.5, "quantity": 2, "product": {"id": 7, "sku": "MUG"}}
            ],
            **extra,
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_subscribing_runs_the_handshake_and_only_an_echo_verifies(keap, subscriber, key):
    assert "order.add" in (await keap.get(f"{API}/hooks/event_keys")).json()
    made = await keap.post(
        f"{API}/hooks", json={"eventKey": "order.add", "hookUrl": "http://subscriber/hook"}
    )
    assert made.status_code == 200
    assert made.json()["status"] == "Verified"
    assert set(made.json()) == {"key", "eventKey", "hookUrl", "status"}

    subscriber.echo = False
    other = await keap.post(
        f"{API}/hooks", json={"eventKey": "order.edit", "hookUrl": "http://subscriber/hook"}
    )
    assert other.json()["status"] == "Unverified"
    # Nothing flows to an Unverified hook; verify runs the handshake again.
    subscriber.echo = True
    again = await keap.post(f"{API}/hooks/{other.json()['key']}/verify")
    assert again.json()["status"] == "Verified"
    listed = (await keap.get(f"{API}/hooks")).json()
    assert [h["status"] for h in listed] == ["Verified", "Verified"]


async def test_an_unknown_event_key_is_refused_in_keaps_shape(keap):
    answer = await keap.post(
        f"{API}/hooks", json={"eventKey": "order.exploded", "hookUrl": "http://subscriber/hook"}
    )
    assert answer.status_code == 400
    assert "eventKey" in answer.json()["message"]


async def test_a_delivery_names_ids_only_and_failures_make_the_hook_inactive(keap, subscriber, key):
    hook = (
        await keap.post(
            f"{API}/hooks", json={"eventKey": "order.add", "hookUrl": "http://subscriber/hook"}
        )
    ).json()
    order = await _order(keap, key)
    sent = (await keap.post(f"/_sandbox/keap/{key}/hooks/deliver")).json()["sent"]
    assert [s["outcome"] for s in sent] == ["delivered"]
    [body] = subscriber.received
    assert body["event_key"] == "order.add" and body["object_type"] == "order"
    [obj] = body["object_keys"]
    assert obj["id"] == order["id"] and set(obj) == {"id", "timestamp"}

    # The subscriber fails: each attempt counts, the 4th makes the hook Inactive.
    subscriber.status = 500
    await _order(keap, key)
    outcomes = []
    for _ in range(4):
        outcomes += [
            s["outcome"]
            for s in (await keap.post(f"/_sandbox/keap/{key}/hooks/deliver")).json()["sent"]
        ]
    assert outcomes == ["failed (1 of 4)", "failed (2 of 4)", "failed (3 of 4)", "hook inactive"]
    assert (await keap.get(f"{API}/hooks/{hook['key']}")).json()["status"] == "Inactive"
    # Inactive: nothing is queued for it any more, until it is verified again.
    subscriber.status = 200
    await _order(keap, key)
    assert (await keap.post(f"/_sandbox/keap/{key}/hooks/deliver")).json()["sent"] == []
    assert (await keap.post(f"{API}/hooks/{hook['key']}/verify")).json()["status"] == "Verified"


async def test_a_410_answer_makes_the_hook_inactive_at_once(keap, subscriber, key):
    hook = (
        await keap.post(
            f"{API}/hooks", json={"eventKey": "order.add", "hookUrl": "http://subscriber/hook"}
        )
    ).json()
    subscriber.status = 410
    await _order(keap, key)
    await keap.post(f"/_sandbox/keap/{key}/hooks/deliver")
    assert (await keap.get(f"{API}/hooks/{hook['key']}")).json()["status"] == "Inactive"


async def test_orders_and_contacts_by_id_and_orders_since(keap, key):
    before = datetime.now(UTC) - timedelta(seconds=2)
    order = await _order(keap, key)
    got = (await keap.get(f"{API}/orders/{order['id']}")).json()
    assert got["total"] == 25.0 and got["status"] == "PAID"
    assert got["order_items"][0]["product"]["sku"] == "MUG"
    contact = (await keap.get(f"{API}/contacts/{got['contact']['id']}")).json()
    assert contact["email_addresses"][0]["email"] == "ada@example.com"

    since = (await keap.get(f"{API}/orders", params={"since": before.isoformat()})).json()
    assert [o["id"] for o in since["orders"]] == [order["id"]] and since["count"] == 1
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert (await keap.get(f"{API}/orders", params={"since": later})).json()["orders"] == []

    missing = await keap.get(f"{API}/orders/999999")
    assert missing.status_code == 404 and "not found" in missing.json()["message"]


async def test_orders_since_are_paged_by_limit_and_offset(keap, key):
    ids = [(await _order(keap, key))["id"] for _ in range(3)]
    first = (await keap.get(f"{API}/orders", params={"limit": 2})).json()
    assert [o["id"] for o in first["orders"]] == ids[:2] and first["count"] == 3
    assert "offset=2" in first["next"]
    rest = (await keap.get(f"{API}/orders", params={"limit": 2, "offset": 2})).json()
    assert [o["id"] for o in rest["orders"]] == ids[2:] and "next" not in rest


async def test_calls_without_a_credential_are_refused(keap):
    answer = await keap.get(f"{API}/orders", headers={"X-Keap-API-Key": ""})
    assert answer.status_code == 401
    assert answer.json()["fault"]["faultstring"] == "Invalid Access Token"
    unknown = await keap.get(
        f"{API}/orders", headers={"X-Keap-API-Key": "", "Authorization": "Bearer nope"}
    )
    assert unknown.status_code == 401


async def test_an_oauth_token_reaches_the_tenant_that_issued_it(keap, key):
    order = await _order(keap, key)
    token = (await keap.post(f"/_sandbox/keap/{key}/oauth/token")).json()["access_token"]
    answer = await keap.get(
        f"{API}/orders/{order['id']}",
        headers={"X-Keap-API-Key": "", "Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200
    assert answer.headers["x-keap-product-throttle-limit"] == "1500"


async def test_quota_headers_count_and_a_spent_minute_is_answered_429(keap, key):
    first = await keap.get(f"{API}/hooks")
    assert first.headers["x-keap-product-throttle-limit"] == "240"
    assert first.headers["x-keap-product-quota-limit"] == "30000"
    used = int(first.headers["x-keap-product-throttle-used"])
    await keap.post(f"/_sandbox/keap/{key}/limits", json={"per_minute": used + 1})
    assert (await keap.get(f"{API}/hooks")).status_code == 200
    refused = await keap.get(f"{API}/hooks")
    assert refused.status_code == 429
    assert refused.json() == {
        "code": "429",
        "message": "Quota Exceeded",
        "status": "Request Throttled",
    }
    assert refused.headers["x-keap-product-throttle-available"] == "0"


async def test_a_refund_raises_refund_total_and_queues_an_order_edit(keap, subscriber, key):
    await keap.post(
        f"{API}/hooks", json={"eventKey": "order.edit", "hookUrl": "http://subscriber/hook"}
    )
    order = await _order(keap, key)  # 25 paid
    before = order["modification_date"]
    refunded = await keap.post(
        f"/_sandbox/keap/{key}/orders/{order['id']}/refunds", json={"amount": "10.5"}
    )
    assert refunded.status_code == 200, refunded.text
    read = (await keap.get(f"{API}/orders/{order['id']}")).json()
    assert read["refund_total"] == 10.5 and read["total_paid"] == 25
    assert read["modification_date"] >= before
    await keap.post(f"/_sandbox/keap/{key}/hooks/deliver")
    [body] = subscriber.received
    assert body["event_key"] == "order.edit" and body["object_keys"][0]["id"] == order["id"]
    # Never more than was paid; an order Keap does not have is named.
    too_much = await keap.post(
        f"/_sandbox/keap/{key}/orders/{order['id']}/refunds", json={"amount": "15"}
    )
    assert too_much.status_code == 400 and "more than the 25" in too_much.json()["message"]
    missing = await keap.post(f"/_sandbox/keap/{key}/orders/999999/refunds", json={"amount": 1})
    assert missing.status_code == 404


async def test_deleting_an_order_queues_both_delete_events_and_it_is_gone(keap, subscriber, key):
    for event in ("order.delete", "invoice.delete"):
        await keap.post(
            f"{API}/hooks", json={"eventKey": event, "hookUrl": "http://subscriber/hook"}
        )
    order = await _order(keap, key)
    deleted = await keap.delete(f"{API}/orders/{order['id']}")
    assert deleted.status_code == 204
    assert (await keap.get(f"{API}/orders/{order['id']}")).status_code == 404
    assert (await keap.delete(f"{API}/orders/{order['id']}")).status_code == 404
    await keap.post(f"/_sandbox/keap/{key}/hooks/deliver")
    assert sorted((b["event_key"], b["object_type"]) for b in subscriber.received) == [
        ("invoice.delete", "invoice"), ("order.delete", "order")
    ]  # fmt: skip
    assert {b["object_keys"][0]["id"] for b in subscriber.received} == {order["id"]}
