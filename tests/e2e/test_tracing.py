"""One trace follows one order through the services: the webhook request at ingest, customers
handling order.ready, invoicing handling customer.resolved (and its calls to the ledger) all
carry the same trace id, read from the spans an in-memory exporter collects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lb_common import tracing
from tests.platforms.factories import shopify_json, shopify_order
from tests.support.stores import Store
from tests.support.system import running_system


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()  # the provider lives on in this process; the exporter stops taking


async def test_one_order_is_one_trace_across_the_services(
    amqp_url: str, broker_prefix: str, tmp_path, store: Store, spans: InMemorySpanExporter
) -> None:
    tracing.listen(SimpleSpanProcessor(spans))  # before the apps are made: webhooks too
    async with running_system(amqp_url, broker_prefix, tmp_path) as system:
        assert tracing.provider() is not None, "the runtime configures tracing at start"
        mug = [{"sku": "MUG-BLACK", "title": "Mug", "price": "60.00"}]
        first = shopify_json(shopify_order(lines=mug, email="traced@example.com"))
        other = shopify_json(shopify_order(lines=mug, email="another@example.com"))
        key = (await system.post_shopify("orders/paid", first)).json()["order_key"]
        other_key = (await system.post_shopify("orders/paid", other)).json()["order_key"]
        await system.wait_for_status(key, "booked")
        await system.wait_for_status(other_key, "booked")

    finished = spans.get_finished_spans()

    def trace_of(service: str, message_type: str, order_key: str) -> int:
        found = [
            s
            for s in finished
            if s.name == f"{service} handle {message_type}"
            and s.attributes is not None
            and s.attributes.get("ledgerbridge.order_key") == order_key
        ]
        assert found, f"no span of {service} handling {message_type} for {order_key}"
        return found[0].context.trace_id

    webhook = [s for s in finished if s.kind.name == "SERVER" and "/webhooks/" in s.name]
    assert webhook, "the webhook request is a span"
    order_trace = trace_of("customers", "order.ready", key)
    assert order_trace == trace_of("invoicing", "customer.resolved", key)
    assert order_trace == trace_of("inventory", "invoice.booked", key)
    assert order_trace in {s.context.trace_id for s in webhook}, "it starts at ingest's webhook"
    # The ledger calls made while booking it belong to it too (httpx client spans or not, the
    # publish and handle spans of its messages all do), and the other order is a trace of its own.
    in_trace = [s for s in finished if s.context.trace_id == order_trace]
    assert {s.name for s in in_trace} >= {
        "customers handle order.ready",
        "invoicing handle customer.resolved",
    }
    assert trace_of("customers", "order.ready", other_key) != order_trace
