"""WooCommerce webhooks: headers, signature, ping, topics, and the order body.

Facts used (see shared/reference/webhooks.md, section 4): the signature is
base64(HMAC-SHA256(secret, body)) with the secret HTML-entity-decoded first; a webhook's creation
ping is an unsigned form post `webhook_id=N` without X-WC-* headers; refunds arrive as
`order.updated` of the parent order; there is no inventory topic and no stable event id.

Cancellation is decided from the body (status cancelled / failed / trash), in two equivalent
ways: `order_kind(body)` returns CANCELLED, and `parse_order` sets financial_status "voided" and
`cancelled_at` (the order's date_modified_gmt).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit

from lb_common.events import Refund
from lb_common.orders import CanonicalOrder

from ._reader import load
from ._woocommerce_order import order_from, refunds_from
from ._woocommerce_order import order_kind as _order_kind
from .base import (
    DEFAULT_FIELDS,
    CustomerFieldMap,
    DeliveryInfo,
    InventoryLevel,
    MissingHeaderError,
    TopicKind,
    lower_keys,
    optional_header,
    require_header,
    signature_matches,
)

TOPIC_HEADER = "X-WC-Webhook-Topic"
RESOURCE_HEADER = "X-WC-Webhook-Resource"
EVENT_HEADER = "X-WC-Webhook-Event"
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
WEBHOOK_ID_HEADER = "X-WC-Webhook-ID"
DELIVERY_ID_HEADER = "X-WC-Webhook-Delivery-ID"
# WooCommerce's docs name the delivery header this way; its code sends the one above.
DOCUMENTED_DELIVERY_ID_HEADER = "X-WC-Delivery-ID"
SOURCE_HEADER = "X-WC-Webhook-Source"

PING_TOPIC = "ping"
TOPICS: Mapping[str, TopicKind] = {
    "order.created": TopicKind.ORDER,
    "order.updated": TopicKind.ORDER,  # also carries refunds: see parse_refunds_from_order
    "order.restored": TopicKind.ORDER,
    # Trashing sends only {"id": N}: use parse_order_id. Restoring sends order.restored.
    "order.deleted": TopicKind.CANCELLED,
    PING_TOPIC: TopicKind.PING,
}


class WooCommerceAdapter:
    platform = "woocommerce"

    def delivery(self, headers: Mapping[str, str]) -> DeliveryInfo:
        h = lower_keys(headers)
        delivery_id = optional_header(h, DELIVERY_ID_HEADER) or optional_header(
            h, DOCUMENTED_DELIVERY_ID_HEADER
        )
        if delivery_id is None:
            raise MissingHeaderError(DELIVERY_ID_HEADER)
        return DeliveryInfo(
            platform=self.platform,
            topic=require_header(h, TOPIC_HEADER).lower(),
            # A hash of webhook id + send time: unique per delivery, never stable per event.
            delivery_id=delivery_id,
            event_id=None,
            shop=_host(require_header(h, SOURCE_HEADER)),
            subscription_id=optional_header(h, WEBHOOK_ID_HEADER),
        )

    def verify(self, headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> bool:
        signature = lower_keys(headers).get(SIGNATURE_HEADER.lower())
        return signature_matches(signature, raw_body, _keys(secrets))

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        h = lower_keys(headers)
        if optional_header(h, TOPIC_HEADER):
            return False
        content_type = h.get("content-type", "").split(";")[0].strip().lower()
        if content_type and content_type != "application/x-www-form-urlencoded":
            return False
        try:
            form = parse_qs(body.decode("ascii"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return False
        ids = form.get("webhook_id", [])
        return set(form) == {"webhook_id"} and len(ids) == 1 and ids[0].isdigit()

    def classify(self, topic: str) -> TopicKind:
        return TOPICS.get(topic.strip().lower(), TopicKind.UNKNOWN)

    def order_kind(self, body: bytes) -> TopicKind:
        return _order_kind(load(body))

    def parse_order_id(self, body: bytes) -> str:
        return load(body).ident("id")

    def parse_order(
        self, body: bytes, *, shop: str, fields: CustomerFieldMap = DEFAULT_FIELDS
    ) -> CanonicalOrder:
        return order_from(load(body), shop=shop, fields=fields)

    def parse_refund(self, body: bytes, *, shop: str) -> tuple[str, Refund]:
        raise NotImplementedError(
            "WooCommerce has no refund topic; use parse_refunds_from_order on order.updated"
        )

    def parse_refunds_from_order(self, body: bytes, *, shop: str) -> list[Refund]:
        """The order's refunds[] (amount-only: the webhook carries no refunded lines)."""
        return refunds_from(load(body))

    def parse_inventory_level(self, body: bytes) -> InventoryLevel:
        raise NotImplementedError("WooCommerce sends no inventory level webhooks")


def _host(source: str) -> str:
    """The shop's identity: the host of X-WC-Webhook-Source (the site's home URL)."""
    parts = urlsplit(source if "//" in source else f"//{source}")
    if not parts.hostname:
        raise MissingHeaderError(SOURCE_HEADER)
    return parts.hostname.lower()


def _keys(secrets: Sequence[str]) -> Iterator[bytes]:
    # WooCommerce signs with the secret after wp_specialchars_decode(ENT_QUOTES). A secret copied
    # from the admin screen may still hold the entities, so both forms are tried.
    for secret in secrets:
        yield secret.encode()
        decoded = _decode_entities(secret)
        if decoded != secret:
            yield decoded.encode()


_ENTITIES = (
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&quot;", '"'),
    ("&#034;", '"'),
    ("&#x22;", '"'),
    ("&#039;", "'"),
    ("&#39;", "'"),
    ("&#x27;", "'"),
    ("&amp;", "&"),  # last, so "&amp;lt;" becomes "&lt;" and not "<"
)


def _decode_entities(secret: str) -> str:
    for entity, char in _ENTITIES:
        secret = secret.replace(entity, char)
    return secret


woocommerce = WooCommerceAdapter()
