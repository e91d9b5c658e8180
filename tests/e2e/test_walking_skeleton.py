"""A signed Shopify order becomes exactly one booked invoice, through all four services on the
real RabbitMQ, each with its own SQLite database, booking into the sandbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlmodel import select

from lb_common.envelope import Envelope
from lb_common.outbox import OutboxMessage
from tests.platforms.factories import SHOPIFY_SHOP, fixture, shopify_json, shopify_order
from tests.support.system import System, running_system

HKD = fixture("shopify_orders_create_discounts_HKD.json")
HKD_ID = json.loads(HKD)["id"]
HKD_KEY = f"shopify:{SHOPIFY_SHOP}:{HKD_ID}"


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(amqp_url, broker_prefix, tmp_path) as running:
        yield running


async def test_public_hkd_order_becomes_one_booked_invoice(system: System):
    response = await system.post_shopify("orders/create", HKD)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "accepted", "order_key": HKD_KEY}

    await system.wait_for_status(HKD_KEY, "booked")
    steps = ("webhook.received", "order.transferred", "customer.resolved", "invoice.drafted")
    order = await system.wait_for_steps(HKD_KEY, *steps, "invoice.booked")

    ledger = await system.ledger_state()
    assert len(ledger["booked_invoices"]) == 1
    invoice = ledger["booked_invoices"][0]
    assert invoice["references"]["other"] == HKD_KEY
    assert invoice["currency"] == "HKD"
    assert Decimal(str(invoice["grossAmount"])) == Decimal("394.00")
    # Four product lines without SKU on the default product, and the shipping line.
    products = [line["product"]["productNumber"] for line in invoice["lines"]]
    assert products == ["WEB-DEFAULT"] * 4 + ["SHIPPING"]
    nets = [Decimal(str(line["unitNetPrice"])) for line in invoice["lines"]]
    assert nets == [Decimal(v) for v in ("89.22", "94.92", "94.93", "94.93", "20.00")]
    assert ledger["drafts"] == []

    [customer] = ledger["customers"]
    assert customer["email"] == "redacted@example.com"
    assert customer["vatZone"]["vatZoneNumber"] == 3  # Hong Kong: outside the EU
    assert invoice["customer"]["customerNumber"] == customer["customerNumber"]
    assert order["customer_number"] == customer["customerNumber"]
    assert order["invoice_number"] == invoice["bookedInvoiceNumber"]

    steps = [entry["step"] for entry in order["timeline"]]
    for expected in (
        "webhook.received",
        "order.transferred",
        "customer.resolved",
        "invoice.drafted",
        "invoice.booked",
    ):
        assert expected in steps, steps
    drafted = next(e for e in order["timeline"] if e["step"] == "invoice.drafted")
    assert any("no SKU" in note for note in drafted["details"]["notes"])


async def test_sale_of_stocked_products_is_read_back_from_the_ledger(system: System):
    body = shopify_json(
        shopify_order(lines=[{"sku": "TSHIRT-RED-M", "title": "T-shirt", "quantity": 3}])
    )
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    await system.wait_for_status(key, "booked")
    for _ in range(100):
        order = await system.order(key)
        if any(e["step"] == "stock.read" for e in order["timeline"]):
            break
        await asyncio.sleep(0.1)
    stock = (await system.apps["inventory"].get("/stock")).json()
    levels = {row["product_number"]: row["available"] for row in stock}
    assert Decimal(levels["TSHIRT-RED-M"]) == Decimal(47)  # the sandbox starts it at 50
    [entry] = [e for e in order["timeline"] if e["step"] == "stock.read"]
    assert "TSHIRT-RED-M: 47" in entry["message"]


async def test_duplicate_webhook_and_duplicate_message_give_one_invoice(system: System, amqp_url):
    first = await system.post_shopify("orders/paid", HKD, webhook_id="delivery-1")
    again = await system.post_shopify("orders/paid", HKD, webhook_id="delivery-1")
    assert first.json()["status"] == "accepted"
    assert again.json() == {"status": "duplicate"}
    await system.wait_for_status(HKD_KEY, "booked")

    # Deliver the order.ready that started it all a second time, as the broker may.
    ingest_db = system.runtimes["ingest"].parts.db

    async with ingest_db.session() as session:
        rows = (await session.exec(select(OutboxMessage))).all()
    [ready] = [r for r in rows if r.routing_key == "order.ready"]
    await system.runtimes["ingest"].parts.broker.publish_envelope(Envelope.from_bytes(ready.body))

    # And a replay by an operator after it was booked is refused rather than repeated.
    replay = await system.apps["ingest"].post(f"/orders/{HKD_KEY}/replay")
    assert replay.status_code == 409

    await _settle(system)
    ledger = await system.ledger_state()
    assert len(ledger["booked_invoices"]) == 1
    assert len(ledger["customers"]) == 1


async def test_forged_signature_is_refused_and_leaves_nothing(system: System):
    response = await system.post_shopify("orders/create", HKD, secret="not-the-secret")
    assert response.status_code == 401
    assert "signature" in response.json()["error"]
    orders = (await system.apps["ingest"].get("/orders")).json()
    assert orders["total"] == 0
    deliveries = (await system.apps["ingest"].get("/deliveries")).json()
    assert deliveries == []


async def test_malformed_body_with_valid_signature_is_kept_and_explained(system: System):
    body = b'{"id": 4242, "currency": "DKK", "line_items": "not a list"'
    response = await system.post_shopify("orders/create", body)
    assert response.status_code == 422
    assert "could not be read" in response.json()["error"]
    [kept] = (await system.apps["ingest"].get("/deliveries")).json()
    assert kept["outcome"] == "unusable"
    raw = await system.apps["ingest"].get(f"/deliveries/{kept['id']}/body")
    assert raw.content == body


async def test_unusable_order_fails_visibly_and_replays_after_the_fix(system: System):
    # The SKU is not in the ledger and the connection fails on unknown products.
    body = shopify_json(
        shopify_order(
            lines=[{"sku": "NOT-IN-LEDGER", "title": "Mystery box", "price": "80.00"}],
            email="mystery@example.com",
        )
    )
    response = await system.post_shopify("orders/paid", body)
    key = response.json()["order_key"]
    failed = await system.wait_for_status(key, "failed")
    assert "NOT-IN-LEDGER" in failed["status_reason"]
    assert any(e["level"] == "error" for e in failed["timeline"])

    # The bookkeeper decides unknown SKUs go on the default product, then replays.
    settings = (await system.apps["invoicing"].get("/connections/demo/settings")).json()
    settings["unknown_product"] = "default_product"
    put = await system.apps["invoicing"].put("/connections/demo/settings", json=settings)
    assert put.status_code == 200
    dry = await system.apps["ingest"].post(f"/orders/{key}/replay", params={"dry_run": True})
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    replay = await system.apps["ingest"].post(f"/orders/{key}/replay")
    assert replay.status_code == 202
    await system.wait_for_status(key, "booked")
    ledger = await system.ledger_state()
    assert len(ledger["booked_invoices"]) == 1
    assert len(ledger["customers"]) == 1  # the customer was resolved once, reused on replay


async def test_returning_customer_is_found_not_created_again(system: System):
    keys = []
    for total in ("100.00", "60.00"):
        body = shopify_json(
            shopify_order(
                lines=[{"sku": "MUG-BLACK", "title": "Mug", "price": total}],
                email="Returning@Example.com",
            )
        )
        keys.append((await system.post_shopify("orders/paid", body)).json()["order_key"])
    first = await system.wait_for_status(keys[0], "booked")
    second = await system.wait_for_status(keys[1], "booked")
    assert first["customer_number"] == second["customer_number"]
    ledger = await system.ledger_state()
    assert len(ledger["customers"]) == 1
    assert len(ledger["booked_invoices"]) == 2


async def _settle(system: System, seconds: float = 1.5) -> None:
    await asyncio.sleep(seconds)


async def test_parked_message_is_listed_retried_after_the_fix_and_dismissed(system: System):
    body = shopify_json(
        shopify_order(lines=[{"sku": "GHOST-9", "title": "Ghost"}], email="ghost@example.com")
    )
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    await system.wait_for_status(key, "failed")
    invoicing = system.apps["invoicing"]
    [parked] = (await invoicing.get("/parked")).json()
    assert parked["type"] == "customer.resolved"
    assert parked["order_key"] == key
    assert "GHOST-9" in parked["reason"]
    assert parked["attempts"] == 1 and parked["settled"] is None

    # Fix the cause (unknown SKUs go on the default product), then send the parked message back.
    settings = (await invoicing.get("/connections/demo/settings")).json()
    await invoicing.put(
        "/connections/demo/settings", json={**settings, "unknown_product": "default_product"}
    )
    retried = await invoicing.post(f"/parked/{parked['message_id']}/retry")
    assert retried.status_code == 202
    booked = await system.wait_for_status(key, "booked")
    assert (await invoicing.get("/parked")).json() == []
    assert (await invoicing.post(f"/parked/{parked['message_id']}/retry")).status_code == 404
    # The retry is on the order's timeline, like a replay.
    steps = [e["step"] for e in booked["timeline"]]
    assert steps.index("invoicing.failed") < steps.index("parked.retried")
    assert steps.index("parked.retried") < steps.index("invoice.booked")

    # Dismissing: park another failure and drop it.
    await invoicing.put("/connections/demo/settings", json=settings)
    body = shopify_json(shopify_order(lines=[{"sku": "GHOST-8"}], email="ghost2@example.com"))
    key2 = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    await system.wait_for_status(key2, "failed")
    [second] = (await invoicing.get("/parked")).json()
    assert (await invoicing.delete(f"/parked/{second['message_id']}")).status_code == 200
    assert (await invoicing.get("/parked")).json() == []
    # Dismissed: a person took it over, so it no longer needs attention (the timeline says who).
    for _ in range(100):
        dismissed = await system.order(key2)
        if not dismissed["needs_attention"]:
            break
        await asyncio.sleep(0.1)
    assert dismissed["needs_attention"] is False and dismissed["status"] == "customer_resolved"
    assert "parked.dismissed" in [e["step"] for e in dismissed["timeline"]]


async def test_a_parked_message_is_shown_settled_once_a_replay_booked_its_order(system: System):
    body = shopify_json(
        shopify_order(lines=[{"sku": "GHOST-7", "title": "Ghost"}], email="ghost7@example.com")
    )
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    await system.wait_for_status(key, "failed")
    invoicing = system.apps["invoicing"]
    [parked] = (await invoicing.get("/parked")).json()
    settings = (await invoicing.get("/connections/demo/settings")).json()
    await invoicing.put(
        "/connections/demo/settings", json={**settings, "unknown_product": "default_product"}
    )
    assert (await system.apps["ingest"].post(f"/orders/{key}/replay")).status_code == 202
    order = await system.wait_for_status(key, "booked")

    [stale] = (await invoicing.get("/parked")).json()
    assert stale["message_id"] == parked["message_id"]
    assert stale["settled"] == f"invoice {order['invoice_number']} for this order is booked."
    # Retrying it removes it instead of running the step again.
    retried = await invoicing.post(f"/parked/{parked['message_id']}/retry")
    assert retried.status_code == 200 and "dismissed" in retried.json()
    assert (await invoicing.get("/parked")).json() == []
    await asyncio.sleep(0.5)
    ledger = await system.ledger_state()
    assert len(ledger["booked_invoices"]) == 1
    assert (await system.order(key))["status"] == "booked"


async def test_ean_buyer_gets_an_e_invoice(system: System):
    body = shopify_json(
        shopify_order(
            lines=[{"sku": "MUG-BLACK", "title": "Mug", "price": "75.00"}],
            email="indkob@kommune.dk",
            company="Kommunen",
            note_attributes={"EAN": "5798000363007"},
        )
    )
    key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
    await system.wait_for_status(key, "booked")
    # The e-invoice goes out after the booking, so its timeline step may come after the status.
    order = await system.wait_for_steps(key, "einvoice.sent")
    ledger = await system.ledger_state()
    [sent] = ledger["sent_invoices"]
    assert sent["sendBy"] == "ean"
    [entry] = [e for e in order["timeline"] if e["step"] == "einvoice.sent"]
    assert "5798000363007" in entry["message"] and entry["service"] == "invoicing"
    assert sent["recipient"]["ean"] == "5798000363007"
    assert sent["invoice"]["bookedInvoiceNumber"] == order["invoice_number"]
    # The buyer's reference person is a contact on the customer and on the invoice.
    [invoice] = ledger["booked_invoices"]
    contact = invoice["recipient"]["attention"]["customerContactNumber"]
    assert invoice["references"]["customerContact"]["customerContactNumber"] == contact


async def test_customers_report_lists_big_buyers_as_json_and_csv(system: System):
    for email, price in (("big@example.com", "5000.00"), ("small@example.com", "100.00")):
        body = shopify_json(
            shopify_order(lines=[{"sku": "MUG-BLACK", "title": "Mug", "price": price}], email=email)
        )
        key = (await system.post_shopify("orders/paid", body)).json()["order_key"]
        await system.wait_for_status(key, "booked")
    invoicing = system.apps["invoicing"]
    report = (await invoicing.get("/reports/customers", params={"min_total": "1000"})).json()
    assert [(r["total"], r["currency"]) for r in report] == [("5000.00", "DKK")]
    csv_answer = await invoicing.get(
        "/reports/customers", params={"min_total": "1000", "format": "csv"}
    )
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert csv_answer.text.splitlines()[1].split(",")[3] == "5000.00"
    history = (await invoicing.get("/invoices", params={"min_total": "1000"})).json()
    assert len(history) == 1 and history[0]["gross_amount"] == "5000.00"


async def test_unknown_products_can_be_created_in_the_ledger(system: System):
    invoicing = system.apps["invoicing"]
    settings = (await invoicing.get("/connections/demo/settings")).json()
    await invoicing.put(
        "/connections/demo/settings",
        json={**settings, "unknown_product": "create", "payment_terms": 1},
    )
    keys = []
    for email in ("new1@example.com", "new2@example.com"):
        body = shopify_json(
            shopify_order(
                lines=[{"sku": "NEW-SKU-1", "title": "Brand new", "price": "125.00"}], email=email
            )
        )
        keys.append((await system.post_shopify("orders/paid", body)).json()["order_key"])
        await system.wait_for_status(keys[-1], "booked")
    ledger = await system.ledger_state()
    [product] = [p for p in ledger["products"] if p["productNumber"] == "NEW-SKU-1"]
    assert product["name"] == "Brand new"
    assert Decimal(str(product["salesPrice"])) == Decimal("100.00")  # net of the 25 % VAT
    first = await system.order(keys[0])
    assert any(e["step"] == "product.created" for e in first["timeline"])
    second = await system.order(keys[1])
    assert not any(e["step"] == "product.created" for e in second["timeline"])
