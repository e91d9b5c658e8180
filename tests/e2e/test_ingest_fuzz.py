"""Random bodies and headers at the webhook endpoint: never a 5xx, never anything half-written.

Unsigned or forged requests must leave nothing behind; signed ones are stored whole, usable or
not. Property-based (hypothesis), against ingest on the real broker and a real SQLite file."""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.platforms.factories import shopify_headers
from tests.support.system import running_system

HEADER_NAMES = st.sampled_from(
    ["X-Shopify-Topic", "X-Shopify-Hmac-Sha256", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id",
     "X-Shopify-Event-Id", "Content-Type", "X-Shopify-API-Version"]
)  # fmt: skip
TOPICS = st.sampled_from(["orders/create", "orders/paid", "refunds/create", "products/update", ""])
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(allow_nan=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)  # fmt: skip
BODIES = st.binary(max_size=300) | JSONISH.map(lambda v: json.dumps(v).encode())


def test_random_webhooks_never_fail_or_half_write(amqp_url, broker_prefix, tmp_path):
    async def scenario(cases: list[tuple[bytes, str, bool, dict[str, str]]]) -> None:
        async with running_system(amqp_url, broker_prefix, tmp_path, "ingest") as system:
            ingest = system.apps["ingest"]
            signed = 0
            for body, topic, sign, extra in cases:
                headers = (
                    shopify_headers(topic or "orders/paid", body, "demo-secret") if sign else {}
                )
                if topic == "":
                    headers.pop("X-Shopify-Topic", None)
                headers.update(extra)
                answer = await ingest.post("/webhooks/shopify/demo", content=body, headers=headers)
                assert answer.status_code < 500, (answer.status_code, answer.text)
                assert "error" in answer.json() or answer.status_code == 200
                authentic = sign and "X-Shopify-Hmac-Sha256" not in extra
                if authentic and answer.status_code not in (401, 415):
                    signed += 1
            stored = (await ingest.get("/deliveries", params={"limit": 1000})).json()
            # Every authentic request is kept (as one delivery), and nothing else is.
            assert len(stored) <= signed
            for delivery in stored:
                raw = await ingest.get(delivery["body_url"])
                assert raw.status_code == 200

    @settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(
            st.tuples(
                BODIES,
                TOPICS,
                st.booleans(),
                st.dictionaries(HEADER_NAMES, st.text(max_size=30), max_size=2),
            ),
            min_size=20,
            max_size=40,
        )
    )
    def run(cases):
        asyncio.run(scenario(cases))

    run()
