"""ingest split by role, as ops run it for volume on one host (docs/architecture.md, "Scaling
out"): a `web` process answers once the raw delivery is stored and applies nothing; a `worker`
on the same SQLite file reads and applies what the web process stored (versions, failures, the
trigger) and publishes it."""

from __future__ import annotations

import asyncio

from tests.platforms.factories import shopify_json, shopify_order
from tests.support.broker import probe
from tests.support.system import running_system

NEWER = {"financial_status": "paid", "updated_at": "2025-03-01T10:05:00Z"}


async def test_a_worker_applies_and_publishes_what_a_web_process_stored(
    amqp_url, broker_prefix, tmp_path
):
    order = shopify_order(id=880001)
    paid, created = shopify_json({**order, **NEWER}), shopify_json(order)
    unreadable = shopify_json({**shopify_order(id=880002), "total_price": "lots"})
    async with probe(amqp_url, broker_prefix) as seen:
        async with running_system(
            amqp_url, broker_prefix, tmp_path, "ingest", common_overrides={"role": "web"}
        ) as web:
            first = await web.post_shopify("orders/paid", paid)
            assert first.json()["status"] == "accepted"
            key = first.json()["order_key"]
            # The older version arrives late; the web process cannot tell it is stale yet.
            late = await web.post_shopify("orders/create", created)
            assert late.json() == {"status": "accepted", "order_key": key}
            # It reads no more than the order's identity: an order it cannot read is kept and
            # accepted (a 4xx would only make the shop send it again), and shows as failed
            # once a worker read it. A body that is not JSON is still refused at once.
            kept = await web.post_shopify("orders/paid", unreadable)
            assert kept.status_code == 200
            broken = await web.post_shopify("orders/paid", b'{"id": 880003, "total_price": ')
            assert broken.status_code == 422 and "not valid JSON" in broken.json()["error"]
            # Longer than any relay would wait: nothing is applied or published without a worker.
            await asyncio.sleep(1.5)
            assert seen.of_type("order.ready") == []
            assert (await web.apps["ingest"].get(f"/orders/{key}")).status_code == 404

            async with running_system(
                amqp_url, broker_prefix, tmp_path, "ingest", common_overrides={"role": "worker"}
            ):
                (ready,) = await seen.wait_for("order.ready", timeout=10)
                assert ready.order_key == key
                assert ready.payload["order"]["financial_status"] == "paid"
                applied = await web.wait_for_status(key, "transferred")
                assert [d["outcome"] for d in applied["deliveries"]] == ["accepted", "stale"]
                assert applied["version"].startswith("2025-03-01T10:05:00")
                failed = await web.wait_for_status(kept.json()["order_key"], "failed")
                assert "total_price" in failed["status_reason"]
                # A redelivery through the web process is still recognised while both run.
                again = await web.post_shopify(
                    "orders/paid", paid, webhook_id=applied["deliveries"][0]["delivery_id"]
                )
                assert again.json() == {"status": "duplicate"}
            await asyncio.sleep(0.5)
            assert len(seen.of_type("order.ready")) == 1
