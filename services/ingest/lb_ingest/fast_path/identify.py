"""Admitting an order delivery by its identity alone (role `web`).

A web process that leaves applying to a worker needs only the order's key to store and answer a
delivery: it reads the order id, not the order (the worker reads the whole order when it applies
it, reading.py). On bench/ingest_webhooks.py's Shopify order (11 kB), measured with timeit on the
loaded 2-core machine: about 90 µs of CPU per webhook instead of about 250 µs (order and
refunds). Every other kind of delivery is read in full, as in reading.py.
"""

from __future__ import annotations

from lb_common.orders import make_order_key
from lb_connectors.platforms.base import DeliveryInfo, PayloadError, PlatformAdapter, TopicKind
from lb_ingest.arrival import Arrival, WebhookAnswer
from lb_ingest.connections import ActiveConnection
from lb_ingest.reading import read_arrival


def read_for_admission(
    adapter: PlatformAdapter, shop_connection: ActiveConnection, info: DeliveryInfo, body: bytes
) -> Arrival | WebhookAnswer:
    """An order body is only checked to be JSON with an order id; other bodies are read whole."""
    kind = adapter.classify(info.topic)
    if kind not in (TopicKind.ORDER, TopicKind.CANCELLED):
        return read_arrival(adapter, shop_connection, info, body)
    arrival = Arrival(
        shop_connection=shop_connection, platform=info.platform, info=info, body=body, kind=kind
    )
    try:
        arrival.order_key = make_order_key(info.platform, info.shop, adapter.parse_order_id(body))
    except PayloadError as exc:
        arrival.problem = str(exc)
    return arrival
