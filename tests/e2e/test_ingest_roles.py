"""ingest split by role, as ops run it for volume on one host (docs/architecture.md, "Scaling
out"): a `web` process answers and stores webhooks but publishes nothing; a `worker` process on
the same SQLite file publishes what the web process wrote."""

from __future__ import annotations

import asyncio

from tests.platforms.factories import shopify_json, shopify_order
from tests.support.broker import probe
from tests.support.system import running_system


async def test_a_worker_publishes_what_a_web_process_stored(amqp_url, broker_prefix, tmp_path):
    body = shopify_json(shopify_order(financial_status="paid"))
    async with probe(amqp_url, broker_prefix) as seen:
        async with running_system(
            amqp_url, broker_prefix, tmp_path, "ingest", common_overrides={"role": "web"}
        ) as web:
            response = await web.post_shopify("orders/paid", body)
            assert response.status_code == 200, response.text
            order_key = response.json()["order_key"]
            # Longer than any relay would wait: a web process leaves the message in the outbox.
            await asyncio.sleep(1.5)
            assert seen.of_type("order.ready") == []
            assert (await web.order(order_key))["status"] == "transferred"

            async with running_system(
                amqp_url, broker_prefix, tmp_path, "ingest", common_overrides={"role": "worker"}
            ):
                (ready,) = await seen.wait_for("order.ready", timeout=10)
                assert ready.order_key == order_key
                # The web process keeps answering while the worker shares the database file.
                again = await web.post_shopify("orders/paid", body)
                assert again.json()["status"] == "accepted"
