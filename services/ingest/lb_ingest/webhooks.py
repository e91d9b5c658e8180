"""Receiving one webhook delivery: authenticate it, identify it, read it, hand it to the writer.

Everything here is CPU work on the request; the writer (writer.py) stores the raw bytes with
what they mean, in group commits, and the answer goes out only after that commit. Nothing waits
on the broker or the ledger: messages leave through the outbox afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from lb_common.events import ShopStockReported
from lb_common.orders import make_order_key
from lb_connectors.platforms.base import (
    DeliveryInfo,
    MissingHeaderError,
    PayloadError,
    PlatformAdapter,
    TopicKind,
)
from lb_connectors.platforms.registry import get_adapter
from lb_connectors.shopify_admin import API_VERSION as SHOPIFY_API_VERSION
from lb_ingest.arrival import Arrival, WebhookAnswer, error_answer
from lb_ingest.connections import ActiveConnection, ConnectionCache
from lb_ingest.writer import DeliveryWriter

log = logging.getLogger(__name__)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


_versions_warned: set[str] = set()


def note_api_version(platform: str, version: str | None) -> bool:
    """Warn (once per version and process) when Shopify sends webhooks in another API version
    than the one ledgerbridge is pinned to: the payload's fields follow the app's webhook
    version. True when it warned."""
    if platform != "shopify" or not version or version == SHOPIFY_API_VERSION:
        return False
    if version in _versions_warned:
        return False
    _versions_warned.add(version)
    log.warning(
        "Shopify sends webhooks in API version %s; ledgerbridge is pinned to %s. Set the app's "
        "webhook API version to %s.",
        version,
        SHOPIFY_API_VERSION,
        SHOPIFY_API_VERSION,
    )
    return True


async def receive_webhook(
    connections: ConnectionCache,
    writer: DeliveryWriter,
    *,
    platform: str,
    connection_name: str,
    headers: Mapping[str, str],
    body: bytes,
) -> WebhookAnswer:
    try:
        adapter = get_adapter(platform)
    except LookupError:
        return error_answer(404, f"unknown platform {platform!r}")
    connection = await connections.get(connection_name)
    if connection is None or connection.platform != platform:
        return error_answer(404, f"no {platform} connection named {connection_name!r}")
    if not connection.enabled:
        return error_answer(403, f"connection {connection_name!r} is disabled")
    if adapter.is_ping(headers, body):
        return WebhookAnswer(200, {"status": "ping received"})
    content_type = _header(headers, "content-type")
    if content_type and "json" not in content_type.lower():
        return error_answer(415, f"expected a JSON body, got content type {content_type!r}")
    if not adapter.verify(headers, body, connection.secrets):
        # Forged or misconfigured: nothing is stored. The log names no secret and no body.
        log.warning(
            "webhook signature did not verify",
            extra={"data": {"connection": connection_name, "platform": platform}},
        )
        return error_answer(401, "signature missing or invalid")

    try:
        info = adapter.delivery(headers)
    except MissingHeaderError as exc:
        outcome = await writer.submit(
            Arrival(
                connection=connection, platform=platform, info=None, body=body, problem=str(exc)
            )
        )
        return WebhookAnswer(outcome.status_code, outcome.body)

    note_api_version(platform, info.api_version)
    # A writer that defers applying (role `web`) needs only the order's identity; the worker
    # reads the whole order when it applies it.
    arrival = read_arrival(adapter, connection, info, body, whole_order=not writer.defers)
    if isinstance(arrival, WebhookAnswer):
        return arrival
    return await writer.submit(arrival)


def read_arrival(
    adapter: PlatformAdapter,
    connection: ActiveConnection,
    info: DeliveryInfo,
    body: bytes,
    *,
    whole_order: bool = True,
) -> Arrival | WebhookAnswer:
    """Read an identified delivery as far as it can be read; what cannot be read is kept in
    `problem` (the delivery is stored all the same), except an unreadable stock level, which is
    refused (there is no order to show it on). Without `whole_order`, an order body is only
    checked to be JSON with an order id."""
    arrival = Arrival(
        connection=connection,
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
    if arrival.kind in (TopicKind.ORDER, TopicKind.CANCELLED) and not whole_order:
        try:
            arrival.order_key = make_order_key(
                info.platform, info.shop, adapter.parse_order_id(body)
            )
        except PayloadError as exc:
            arrival.problem = str(exc)
    elif arrival.kind in (TopicKind.ORDER, TopicKind.CANCELLED):
        try:
            arrival.order = adapter.parse_order(
                body, shop=info.shop, fields=connection.settings.customer_fields
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
