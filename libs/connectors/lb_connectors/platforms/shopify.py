"""Shopify webhooks: headers, HMAC, topics, and the order / refund / inventory bodies.

Facts used (see shared/reference/webhooks.md): header names are case-insensitive; the signature
is base64(HMAC-SHA256(client secret, raw body)); bodies are the REST resource of the topic; ids
are 64-bit integers; money is decimal strings except refund line `subtotal` / `total_tax`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from lb_common.events import Refund
from lb_common.orders import CanonicalOrder

from ._reader import load, load_id
from ._shopify_order import order_from
from ._shopify_refund import refund_from
from .base import (
    DEFAULT_FIELDS,
    CustomerFieldMap,
    DeliveryInfo,
    InventoryLevel,
    TopicKind,
    lower_keys,
    optional_header,
    require_header,
    signature_matches,
)

TOPIC_HEADER = "X-Shopify-Topic"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
SHOP_HEADER = "X-Shopify-Shop-Domain"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
EVENT_ID_HEADER = "X-Shopify-Event-Id"
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"
API_VERSION_HEADER = "X-Shopify-API-Version"

TOPICS: Mapping[str, TopicKind] = {
    "orders/create": TopicKind.ORDER,
    "orders/updated": TopicKind.ORDER,
    "orders/paid": TopicKind.ORDER,
    "orders/fulfilled": TopicKind.ORDER,
    "orders/partially_fulfilled": TopicKind.ORDER,
    "orders/edited": TopicKind.ORDER,
    "orders/cancelled": TopicKind.CANCELLED,
    "refunds/create": TopicKind.REFUND,
    "inventory_levels/update": TopicKind.INVENTORY_LEVEL,
}


class ShopifyAdapter:
    platform = "shopify"

    def delivery(self, headers: Mapping[str, str]) -> DeliveryInfo:
        h = lower_keys(headers)
        return DeliveryInfo(
            platform=self.platform,
            topic=require_header(h, TOPIC_HEADER).lower(),
            delivery_id=require_header(h, WEBHOOK_ID_HEADER),
            # Optional: older deliveries and some API versions do not send it.
            event_id=optional_header(h, EVENT_ID_HEADER),
            shop=require_header(h, SHOP_HEADER).lower(),
            triggered_at=_timestamp(optional_header(h, TRIGGERED_AT_HEADER)),
            api_version=optional_header(h, API_VERSION_HEADER),
        )

    def verify(self, headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> bool:
        signature = lower_keys(headers).get(HMAC_HEADER.lower())
        return signature_matches(signature, raw_body, (s.encode() for s in secrets))

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # Shopify has no ping delivery

    def classify(self, topic: str) -> TopicKind:
        return TOPICS.get(topic.strip().lower(), TopicKind.UNKNOWN)

    def order_kind(self, body: bytes) -> TopicKind:
        # orders/updated also fires for a cancellation; the body tells, not only the topic.
        return TopicKind.CANCELLED if load(body).opt_when("cancelled_at") else TopicKind.ORDER

    def parse_order_id(self, body: bytes) -> str:
        return load_id(body)

    def parse_order(
        self, body: bytes, *, shop: str, fields: CustomerFieldMap = DEFAULT_FIELDS
    ) -> CanonicalOrder:
        return order_from(load(body), shop=shop, fields=fields)

    def parse_refund(self, body: bytes, *, shop: str) -> tuple[str, Refund]:
        return refund_from(load(body))

    def parse_refunds_from_order(self, body: bytes, *, shop: str) -> list[Refund]:
        order = load(body)
        currency = order.clean_text("currency")
        return [refund_from(r, order_currency=currency)[1] for r in order.objs("refunds")]

    def parse_inventory_level(self, body: bytes) -> InventoryLevel:
        level = load(body)
        return InventoryLevel(
            inventory_item_id=level.ident("inventory_item_id"),
            location_id=level.ident("location_id"),
            available=level.opt_int("available"),
            updated_at=level.when("updated_at"),
        )


def _timestamp(value: str | None) -> datetime | None:
    # Informational only (staleness checks), so an unreadable value is dropped, not fatal.
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


shopify = ShopifyAdapter()
