"""Reading an identified webhook delivery into an `Arrival`: the order (or refund, or stock
level) it carries, as far as the platform adapter can read it. The request path (webhooks.py) and
the worker that applies stored deliveries (fast_path/processor.py) read the same way."""

from __future__ import annotations

from lb_common.events import ShopStockReported
from lb_common.orders import make_order_key
from lb_connectors.platforms.base import DeliveryInfo, PayloadError, PlatformAdapter, TopicKind
from lb_ingest.arrival import Arrival, WebhookAnswer
from lb_ingest.connections import ActiveConnection


def read_arrival(
    adapter: PlatformAdapter, shop_connection: ActiveConnection, info: DeliveryInfo, body: bytes
) -> Arrival | WebhookAnswer:
    """Read an identified delivery as far as it can be read; what cannot be read is kept in
    `problem` (the delivery is stored all the same), except an unreadable stock level, which is
    refused (there is no order to show it on)."""
    arrival = Arrival(
        shop_connection=shop_connection,
        platform=info.platform,
        info=info,
        body=body,
        kind=adapter.classify(info.topic),
    )
    if arrival.kind is TopicKind.INVENTORY_LEVEL:
        try:
            level = adapter.parse_inventory_level(body)
            arrival.stock = ShopStockReported(
                inventory_item_id=level.inventory_item_id,
                location_id=level.location_id,
                available=level.available,
                updated_at=level.updated_at,
            )
        except PayloadError as exc:
            return WebhookAnswer(422, {"error": f"the stock level could not be read: {exc}"})
    if arrival.kind is TopicKind.REFUND:
        try:
            order_id, refund = adapter.parse_refund(body, shop=info.shop)
            arrival.order_key = make_order_key(info.platform, info.shop, order_id)
            arrival.refunds = [refund]
        except PayloadError as exc:
            arrival.problem = str(exc)
    if arrival.kind in (TopicKind.ORDER, TopicKind.CANCELLED):
        try:
            arrival.order = adapter.parse_order(
                body, shop=info.shop, fields=shop_connection.settings.customer_fields
            )
            # Refunds also travel inside order bodies (WooCommerce only sends them so).
            arrival.refunds = adapter.parse_refunds_from_order(body, shop=info.shop)
        except PayloadError as exc:
            arrival.problem = str(exc)
            try:
                arrival.order_key = make_order_key(
                    info.platform, info.shop, adapter.parse_order_id(body)
                )
            except PayloadError:
                arrival.order_key = None
    return arrival
