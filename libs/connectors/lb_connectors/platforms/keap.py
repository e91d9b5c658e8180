"""Keap (formerly Infusionsoft) REST hooks: a fetch-after-notify platform.

Facts used (shared/reference/qbo-keap.md, section 6): a hook delivery is
{"event_key", "object_type", "object_keys": [{"id", "apiUrl" (optional), "timestamp"}]}, up to
1,000 objects of one type, unsigned; subscribing POSTs a handshake with the header
X-Hook-Secret, which the reply must echo. Nothing in a delivery is authenticated, so the hook
URL carries a secret token per connection (`verify_hook_token`), and every id is fetched from
Keap's API before anything is believed (which authenticates it a second time).

A fetched order is read from the body ingest's fetcher stores (_keap_order.py), a deleted one
too (the last body read, marked deleted), and so are its refunds (refund_total, as the amount
refunded to date).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lb_common.events import Refund
from lb_common.orders import CanonicalOrder

from ._keap_order import order_from, refunds_from
from ._reader import load
from .base import (
    DEFAULT_FIELDS,
    CustomerFieldMap,
    DeliveryInfo,
    InventoryLevel,
    MissingHeaderError,
    Notification,
    NotifiedObject,
    PayloadError,
    TopicKind,
    lower_keys,
    optional_header,
    token_matches,
)

HANDSHAKE_HEADER = "X-Hook-Secret"
#: Order events whose objects are fetched as orders. order.edit is not in Keap's own docs (only
#: in third-party lists): subscribed to only where the tenant's GET /v1/hooks/event_keys has it.
ORDER_EVENTS: Mapping[str, TopicKind] = {
    "order.add": TopicKind.ORDER,
    "order.edit": TopicKind.ORDER,
}
#: Deletions: invoice.delete is in Keap's docs [K1], order.delete only in third-party lists; a
#: Keap order is its invoice (one id), so both name the order. Subscribed to where the tenant
#: offers them and the connection's `keap_deletions` is on; the fetcher makes sure Keap really
#: no longer has the order before anything is cancelled.
DELETE_EVENTS: Mapping[str, TopicKind] = {
    "order.delete": TopicKind.ORDER,
    "invoice.delete": TopicKind.ORDER,
}
#: Not Keap's: the event key under which ingest's reconciliation (GET /v1/orders?since=) names
#: the orders it found changed, fetched and read as the hooks' are.
RECONCILE_EVENT = "reconcile.order"
MAX_OBJECTS = 1000  # Keap batches at most this many objects into one delivery


class KeapAdapter:
    platform = "keap"

    # --- fetch after notify (NotifyingPlatform) ----------------------------------------------

    def verify_hook_token(self, token: str, secrets: Sequence[str]) -> bool:
        return token_matches(token, secrets)

    def handshake_secret(self, headers: Mapping[str, str]) -> str | None:
        return optional_header(lower_keys(headers), HANDSHAKE_HEADER)

    def parse_notification(self, body: bytes) -> Notification:
        o = load(body)
        keys = o.objs("object_keys")
        if not keys:
            raise PayloadError("object_keys: is required and must name at least one object")
        if len(keys) > MAX_OBJECTS:
            raise PayloadError(f"object_keys: {len(keys)} objects, Keap sends at most 1000")
        return Notification(
            event_key=o.text("event_key").strip().lower(),
            object_type=o.clean_text("object_type"),
            objects=tuple(NotifiedObject(k.ident("id"), k.text("timestamp")) for k in keys),
        )

    def fetches(self, event_key: str) -> bool:
        return (
            event_key in ORDER_EVENTS or event_key in DELETE_EVENTS or event_key == RECONCILE_EVENT
        )

    # --- PlatformAdapter ---------------------------------------------------------------------

    def delivery(self, headers: Mapping[str, str]) -> DeliveryInfo:
        # A Keap delivery names nothing in its headers; its body says what it is.
        raise MissingHeaderError(HANDSHAKE_HEADER)

    def verify(self, headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> bool:
        return False  # Keap signs nothing: only the hook URL's token authenticates

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # the handshake is answered by handshake_secret, not as a ping

    def classify(self, topic: str) -> TopicKind:
        topic = topic.strip().lower()
        if topic == RECONCILE_EVENT:
            return TopicKind.ORDER
        return ORDER_EVENTS.get(topic) or DELETE_EVENTS.get(topic, TopicKind.UNKNOWN)

    def order_kind(self, body: bytes) -> TopicKind:
        # A Keap order has no cancelled state: it is deleted (the fetcher marks the body so).
        return TopicKind.CANCELLED if load(body).has("deleted") else TopicKind.ORDER

    def parse_order_id(self, body: bytes) -> str:
        return load(body).obj("order").ident("id")

    def parse_order(
        self, body: bytes, *, shop: str, fields: CustomerFieldMap = DEFAULT_FIELDS
    ) -> CanonicalOrder:
        return order_from(load(body), shop=shop, fields=fields)

    def parse_refund(self, body: bytes, *, shop: str) -> tuple[str, Refund]:
        raise NotImplementedError("Keap has no refund hook; refunds are read from the order")

    def parse_refunds_from_order(self, body: bytes, *, shop: str) -> list[Refund]:
        return refunds_from(load(body))

    def parse_inventory_level(self, body: bytes) -> InventoryLevel:
        raise NotImplementedError("Keap sends no inventory level hooks")


keap = KeapAdapter()
