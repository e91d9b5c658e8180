"""Many shops, many ledgers: each connection reaches its own shop and books into its own
agreement, with its secrets sealed (issue #12)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlmodel import select

from lb_common.connection_copies import ConnectionCopy
from lb_common.logging import JsonFormatter
from lb_common.sealing import SealError, SecretBox
from lb_ingest.store import ShopConnection
from tests.platforms.factories import (
    shopify_headers,
    shopify_json,
    shopify_order,
    woocommerce_headers,
    woocommerce_json,
    woocommerce_order,
)
from tests.support.system import System, running_system

NORTH = "north-shop.myshopify.com"
SOUTH = "south-shop.myshopify.com"


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path, "ingest", "customers") as running:
        yield running


async def _shop_has(system: System, shop_token: str, body: dict) -> None:
    async with system.sandbox() as sandbox:
        answer = await sandbox.post(f"/_sandbox/shopify/{shop_token}/orders", json=body)
        assert answer.status_code == 201, answer.text


async def test_reconciling_one_shop_never_files_another_shops_orders(system: System):
    """Two Shopify connections: reconciling `south` asks south's shop only. Before #12 it asked
    the one configured shop (north's) and filed north's orders as phantom orders of south."""
    ingest = system.apps["ingest"]
    south_token = f"shop-south-{uuid.uuid4().hex}"
    north = await ingest.put(
        "/connections/north",
        json={
            "platform": "shopify",
            "secrets": ["north-secret"],
            "settings": {"shop_domain": NORTH},
            "shop": {"admin_url": "http://sandbox/shopify", "admin_token": system.shop_token},
        },
    )
    assert north.status_code == 200, north.text
    south = await ingest.put(
        "/connections/south",
        json={
            "platform": "shopify",
            "secrets": ["south-secret"],
            "settings": {"shop_domain": SOUTH},
            "shop": {"admin_url": "http://sandbox/shopify", "admin_token": south_token},
        },
    )
    assert south.status_code == 200, south.text
    await _shop_has(
        system, system.shop_token, shopify_order(id=770001, updated_at="2026-11-23T08:00:00Z")
    )
    await _shop_has(
        system, south_token, shopify_order(id=770002, updated_at="2026-11-23T08:00:00Z")
    )

    answer = await ingest.post(
        "/connections/south/reconcile", params={"since": "2026-11-23T00:00:00Z"}
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["seen"], answer.json()["fed"]) == (1, 1)
    assert (await ingest.get(f"/orders/shopify:{SOUTH}:770002")).status_code == 200
    phantom = await ingest.get(f"/orders/shopify:{SOUTH}:770001")
    assert phantom.status_code == 404, "north's order was filed under south"


# --- three connections, two agreements, two shops ------------------------------------------

MUG = [{"sku": "MUG-BLACK", "title": "Mug", "price": "60.00"}]


class Secrets:
    """Every secret the test gives ledgerbridge, each unique, so a leak is found by search."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.grant_a, self.grant_b = f"grant-a-{tag}", f"grant-b-{tag}"
        self.app = f"app-secret-{tag}"
        self.shop_a, self.shop_b = f"shop-token-a-{tag}", f"shop-token-b-{tag}"
        self.hooks = {
            "north": f"hook-north-{tag}",
            "south": f"hook-south-{tag}",
            "east": f"hook-east-{tag}",
        }
        self.rotated = f"hook-north-new-{tag}"

    def all(self) -> list[str]:
        return [self.grant_a, self.grant_b, self.app, self.shop_a, self.shop_b, self.rotated]

    def every(self) -> list[str]:
        return [*self.all(), *self.hooks.values()]

    def ledger(self, grant: str) -> dict[str, Any]:
        return {
            "kind": "economic",
            "credentials": {
                "base_url": "http://sandbox/economic",
                "app_secret_token": self.app,
                "agreement_grant_token": grant,
            },
        }


class Spy:
    """Every message on the test's exchange, and every log line, as text."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.lines: list[str] = []

    def emit_handler(self) -> logging.Handler:
        spy, formatter = self, JsonFormatter()

        class Capture(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if "/_sandbox/" in record.getMessage():
                    return  # the test's own look into the sandbox (whose paths name tokens)
                spy.lines.append(formatter.format(record) + repr(record.args))

        return Capture(level=logging.DEBUG)


@contextlib.asynccontextmanager
async def spying(amqp_url: str, prefix: str) -> AsyncIterator[Spy]:
    spy = Spy()
    handler = spy.emit_handler()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{prefix}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key="#")

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            spy.messages.append(message.body.decode() + json.dumps(dict(message.headers)))
            await message.ack()

        await queue.consume(on_message)
        yield spy
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        await connection.close()


async def _agreement(system: System, grant: str) -> dict[str, Any]:
    async with system.sandbox() as sandbox:
        answer = await sandbox.get(f"/_sandbox/agreements/{grant}/state")
        answer.raise_for_status()
        return answer.json()


async def _post_shopify(
    system: System, connection: str, shop: str, body: dict[str, Any], secret: str
) -> httpx.Response:
    raw = shopify_json(body)
    return await system.apps["ingest"].post(
        f"/webhooks/shopify/{connection}",
        content=raw,
        headers=shopify_headers("orders/paid", raw, secret, shop=shop),
    )


async def _connect_three(system: System, s: Secrets) -> list[httpx.Response]:
    ingest = system.apps["ingest"]
    answers = [
        await ingest.put(
            "/connections/north",
            json={
                "platform": "shopify",
                "secrets": [s.hooks["north"]],
                "settings": {"shop_domain": NORTH},
                "shop": {"admin_url": "http://sandbox/shopify", "admin_token": s.shop_a},
                "ledger": s.ledger(s.grant_a),
            },
        ),
        await ingest.put(
            "/connections/south",
            json={
                "platform": "shopify",
                "secrets": [s.hooks["south"]],
                "settings": {"shop_domain": SOUTH},
                "shop": {"admin_url": "http://sandbox/shopify", "admin_token": s.shop_b},
                "ledger": s.ledger(s.grant_b),
            },
        ),
        # A WooCommerce shop booking into north's agreement (they share its pacer).
        await ingest.put(
            "/connections/east",
            json={
                "platform": "woocommerce",
                "secrets": [s.hooks["east"]],
                "ledger": s.ledger(s.grant_a),
            },
        ),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
    return answers


async def test_three_connections_book_into_their_own_agreements_and_no_secret_leaks(
    amqp_url, broker_prefix, tmp_path
):
    s = Secrets()
    async with (
        spying(amqp_url, broker_prefix) as spy,
        running_system(
            amqp_url,
            broker_prefix,
            tmp_path,
            # A connection a service has not heard of yet waits rather than using the
            # environment's agreement.
            common_overrides={"environment_connections": "demo"},
        ) as system,
    ):
        ingest = system.apps["ingest"]
        responses = [a.text for a in await _connect_three(system, s)]

        north = await _post_shopify(
            system, "north", NORTH, shopify_order(id=880001, lines=MUG), s.hooks["north"]
        )
        south = await _post_shopify(
            system, "south", SOUTH, shopify_order(id=880002, lines=MUG), s.hooks["south"]
        )
        raw = woocommerce_json(woocommerce_order(lines=[{"sku": "MUG-BLACK", "price": "60.00"}]))
        east = await ingest.post(
            "/webhooks/woocommerce/east",
            content=raw,
            headers=woocommerce_headers("order.created", raw, s.hooks["east"]),
        )
        keys = [a.json()["order_key"] for a in (north, south, east)]
        for key in keys:
            order = await system.wait_for_status(key, "booked", "failed", timeout=60)
            assert order["status"] == "booked", order["status_reason"]

        # Each shop's orders in its own agreement, nothing in the environment's.
        booked_a = [
            i["references"]["other"]
            for i in (await _agreement(system, s.grant_a))["booked_invoices"]
        ]
        booked_b = [
            i["references"]["other"]
            for i in (await _agreement(system, s.grant_b))["booked_invoices"]
        ]
        assert sorted(booked_a) == sorted([keys[0], keys[2]])
        assert booked_b == [keys[1]]
        async with system.sandbox() as sandbox:  # never reached: the sandbox never made it
            untouched = await sandbox.get(f"/_sandbox/agreements/{system.grant}/state")
        assert untouched.status_code == 404

        # A webhook secret rotated: old and new both pass while the shop switches over, then
        # only the new one; no webhook is refused on the way.
        rotating = await ingest.put(
            "/connections/north",
            json={
                "platform": "shopify",
                "secrets": [s.hooks["north"], s.rotated],
                "settings": {"shop_domain": NORTH},
            },
        )
        responses.append(rotating.text)
        old = await _post_shopify(
            system, "north", NORTH, shopify_order(id=880003, lines=MUG), s.hooks["north"]
        )
        new = await _post_shopify(
            system, "north", NORTH, shopify_order(id=880004, lines=MUG), s.rotated
        )
        assert (old.status_code, new.status_code) == (200, 200), (old.text, new.text)
        done = await ingest.put(
            "/connections/north",
            json={
                "platform": "shopify",
                "secrets": [s.rotated],
                "settings": {"shop_domain": NORTH},
            },
        )
        responses.append(done.text)
        refused = await _post_shopify(
            system, "north", NORTH, shopify_order(id=880005, lines=MUG), s.hooks["north"]
        )
        assert refused.status_code == 401
        for key in (old.json()["order_key"], new.json()["order_key"]):
            order = await system.wait_for_status(key, "booked", "failed", timeout=60)
            assert order["status"] == "booked", order["status_reason"]
        # The rotation kept north's shop and ledger.
        booked_a = [
            i["references"]["other"]
            for i in (await _agreement(system, s.grant_a))["booked_invoices"]
        ]
        assert old.json()["order_key"] in booked_a and new.json()["order_key"] in booked_a

        listing = await ingest.get("/connections")
        responses.append(listing.text)
        views = {c["name"]: c for c in listing.json()}
        assert views["north"]["shop"] == {
            "admin_url": "http://sandbox/shopify",
            "admin_token_configured": True,
        }
        assert views["east"]["ledger"]["credentials_configured"] == [
            "agreement_grant_token",
            "app_secret_token",
            "base_url",
        ]
        assert views["demo"]["ledger"] == "environment"

        # Reconciling north reads shop A only: shop B's order is not north's.
        async with system.sandbox() as sandbox:
            await sandbox.post(
                f"/_sandbox/shopify/{s.shop_b}/orders",
                json=shopify_order(id=880009, updated_at="2026-11-23T08:00:00Z"),
            )
        result = await ingest.post(
            "/connections/north/reconcile", params={"since": "2026-11-23T00:00:00Z"}
        )
        responses.append(result.text)
        assert result.json()["seen"] == 0
        await asyncio.sleep(0.5)  # the last messages reach the spy

    assert any('"connection.changed"' in m for m in spy.messages)
    for secret in s.all():  # webhook secrets sign bodies: never sent or shown
        for where, texts in (
            ("message", spy.messages),
            ("log line", spy.lines),
            ("response", responses),
        ):
            leaked = [t for t in texts if secret in t]
            assert not leaked, f"a secret in a {where}: {leaked[0][:300]}"
    for secret in s.hooks.values():
        assert not [t for t in spy.messages + spy.lines + responses if secret in t]


async def _copies_open_with(system: System, box: SecretBox, timeout: float = 30) -> None:
    """Wait until every service's copy of every connection opens with `box` alone."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        unopened = []
        for name, runtime in system.runtimes.items():
            async with runtime.parts.db.session() as session:
                for copy in (await session.exec(select(ConnectionCopy))).all():
                    if copy.sealed is None:
                        continue
                    try:
                        box.open(copy.sealed)
                    except SealError:
                        unopened.append(f"{name}:{copy.name}")
        if not unopened:
            return
        assert loop.time() < deadline, f"copies still sealed with the old key: {unopened}"
        await asyncio.sleep(0.2)


async def test_a_rotated_encryption_key_loses_no_webhook(amqp_url, broker_prefix, tmp_path):
    s = Secrets()
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    overrides = {"environment_connections": "demo", "secrets_key": SecretStr(old_key)}
    async with running_system(
        amqp_url, broker_prefix, tmp_path, common_overrides=overrides
    ) as system:
        await _connect_three(system, s)
        keys = []

        async def book_one(order_id: int) -> None:
            answer = await _post_shopify(
                system, "south", SOUTH, shopify_order(id=order_id, lines=MUG), s.hooks["south"]
            )
            assert answer.status_code == 200, answer.text
            keys.append(answer.json()["order_key"])

        await book_one(881001)

        async def restart_with(keys_value: str) -> None:
            await system.stop()
            system.common = system.common.model_copy(update={"secrets_key": SecretStr(keys_value)})
            await system.start()

        # 1. The new key first, the old one kept, everywhere: ingest reseals at its start and
        #    sends every connection again; a webhook meanwhile is verified as ever.
        await restart_with(f"{new_key},{old_key}")
        await book_one(881002)
        await _copies_open_with(system, SecretBox([new_key]))
        async with system.runtimes["ingest"].parts.db.session() as session:
            for row in (await session.exec(select(ShopConnection))).all():
                assert row.secrets == [] and row.sealed is not None
                SecretBox([new_key]).open(row.sealed)

        # 2. The old key dropped: nothing needs it any more.
        await restart_with(new_key)
        await book_one(881003)
        for key in keys:
            order = await system.wait_for_status(key, "booked", "failed", timeout=60)
            assert order["status"] == "booked", order["status_reason"]
        booked_b = [
            i["references"]["other"]
            for i in (await _agreement(system, s.grant_b))["booked_invoices"]
        ]
        assert sorted(booked_b) == sorted(keys)


async def test_admin_calls_for_a_deleted_connection_answer_409_with_the_reason(
    amqp_url, broker_prefix, tmp_path
):
    # Found by make fuzz-api: once ingest deleted the connection, inventory's admin routes for it
    # answered a bare 500.
    async with running_system(amqp_url, broker_prefix, tmp_path, "ingest", "inventory") as system:
        deleted = await system.apps["ingest"].delete("/connections/demo")
        assert deleted.status_code == 200, deleted.text
        inventory = system.apps["inventory"]
        for _ in range(100):  # the copy is refreshed every 2 s
            answer = await inventory.get("/locations", params={"connection": "demo"})
            if answer.status_code != 200:
                break
            await asyncio.sleep(0.1)
        assert answer.status_code == 409, answer.text
        assert "connection 'demo' was deleted" in answer.json()["detail"]
