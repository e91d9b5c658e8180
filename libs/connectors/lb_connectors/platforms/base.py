"""The contract every webshop platform adapter fulfils.

An adapter turns one platform's webhook delivery (headers + raw body) into canonical objects.
It is stateless and does no I/O, so ingest can call it on the request path. Adding a platform
means adding one module that implements `PlatformAdapter` and one line in `registry.py`.

Typical use in ingest:

    adapter = get_adapter(platform)
    if adapter.is_ping(headers, body):
        return 200                                # nothing to verify or parse
    info = adapter.delivery(headers)              # MissingHeaderError -> 400
    if not adapter.verify(headers, body, secrets):
        return 401
    kind = adapter.classify(info.topic)
    if kind is TopicKind.ORDER:
        kind = adapter.order_kind(body)           # a cancelled order is CANCELLED
    ...

Fetch after notify. Some platforms (Keap) send only the ids of what changed, sign nothing, and
check the hook URL with a handshake. Their adapter also implements `NotifyingPlatform`: ingest
authenticates the delivery by the secret token in the hook URL (`verify_hook_token`), echoes
the handshake (`handshake_secret`), stores the ids (`parse_notification`), and a worker fetches
each object from the platform's API and reads it with `parse_order` like any order body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Protocol, cast, runtime_checkable

from pydantic import BaseModel, ConfigDict

from lb_common.events import Refund
from lb_common.orders import CanonicalOrder


class TopicKind(Enum):
    ORDER = "order"
    CANCELLED = "cancelled"
    REFUND = "refund"
    INVENTORY_LEVEL = "inventory_level"
    PING = "ping"
    UNKNOWN = "unknown"


class PayloadError(ValueError):
    """The body is not what the platform documents; the message names the offending field."""


class MissingHeaderError(ValueError):
    """A header the delivery cannot be identified without is absent."""

    def __init__(self, header: str) -> None:
        super().__init__(f"missing header {header}")
        self.header = header


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """What the headers say about one delivery (nothing here is authenticated before verify)."""

    platform: str
    topic: str
    delivery_id: str  # one HTTP delivery
    event_id: str | None  # one merchant action, shared by its deliveries; None if not sent
    shop: str  # lower-case host, e.g. "demo-shop.myshopify.com"
    triggered_at: datetime | None = None  # UTC
    api_version: str | None = None
    subscription_id: str | None = None  # the platform's webhook (subscription) id

    @property
    def dedup_key(self) -> str:
        # Event ids repeat across topics of one merchant action (orders/create + orders/paid), so
        # the topic is part of the key; without an event id, fall back to the delivery id.
        return f"{self.platform}:{self.shop}:{self.topic}:{self.event_id or self.delivery_id}"


#: A refund whose id starts with this is not one refund but the amount refunded to date (Keap
#: reports only a running `refund_total`, no refund ids, no lines). Its id ends with that
#: amount (`refunded_to_date_id`), so the same figure read again is the same id; ingest
#: (refund_steps.py) sends on only the step from the last figure it sent.
REFUNDED_TO_DATE = "refunded-to-date:"


def refunded_to_date_id(amount: Decimal) -> str:
    return f"{REFUNDED_TO_DATE}{amount.quantize(Decimal('0.01'))}"


@dataclass(frozen=True, slots=True)
class InventoryLevel:
    inventory_item_id: str
    location_id: str
    available: int | None  # None when the platform does not track the quantity
    updated_at: datetime  # UTC


class CustomerFieldMap(BaseModel):
    """Where a connection's checkout stores VAT (CVR) and EAN numbers.

    Danish checkout plugins each pick their own names, so this is configured per connection.
    Names are matched case-insensitively after trimming; the first non-empty match in list order
    wins. `billing_company_is_b2b` makes a billing company name alone count as B2B (off by
    default: consumers often type something into the company field).
    """

    model_config = ConfigDict(frozen=True)

    shopify_vat_attributes: tuple[str, ...] = (
        "CVR",
        "cvr",
        "CVR-nummer",
        "CVR nummer",
        "cvr_number",
        "vat_number",
        "VAT",
        "VAT number",
        "Momsnummer",
    )
    shopify_ean_attributes: tuple[str, ...] = (
        "EAN",
        "ean",
        "EAN-nummer",
        "EAN nummer",
        "ean_number",
    )
    woocommerce_vat_meta_keys: tuple[str, ...] = (
        "_billing_cvr",
        "billing_cvr",
        "_billing_vat",
        "billing_vat",
        "_billing_vat_number",
        "billing_vat_number",
        "_vat_number",
        "vat_number",
    )
    woocommerce_ean_meta_keys: tuple[str, ...] = (
        "_billing_ean",
        "billing_ean",
        "_billing_ean_number",
        "billing_ean_number",
    )
    billing_company_is_b2b: bool = False


DEFAULT_FIELDS = CustomerFieldMap()


@runtime_checkable
class PlatformAdapter(Protocol):
    platform: str

    def delivery(self, headers: Mapping[str, str]) -> DeliveryInfo:
        """Identify the delivery. Raises MissingHeaderError naming the absent header."""
        ...

    def verify(self, headers: Mapping[str, str], raw_body: bytes, secrets: Sequence[str]) -> bool:
        """True if the signature matches any of `secrets` (several during a rotation)."""
        ...

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """True for the platform's unsigned "is this URL alive" request; answer it with 200."""
        ...

    def classify(self, topic: str) -> TopicKind: ...

    def order_kind(self, body: bytes) -> TopicKind:
        """For an ORDER-topic body: CANCELLED if the order is cancelled, else ORDER."""
        ...

    def parse_order_id(self, body: bytes) -> str:
        """The order id alone (enough for bodies that are not a full order, e.g. deletions)."""
        ...

    def parse_order(
        self, body: bytes, *, shop: str, fields: CustomerFieldMap = DEFAULT_FIELDS
    ) -> CanonicalOrder: ...

    def parse_refund(self, body: bytes, *, shop: str) -> tuple[str, Refund]:
        """A refund delivered on its own topic: (order id, refund)."""
        ...

    def parse_refunds_from_order(self, body: bytes, *, shop: str) -> list[Refund]:
        """Every refund embedded in an order body (stable refund ids; dedupe on them)."""
        ...

    def parse_inventory_level(self, body: bytes) -> InventoryLevel: ...


@dataclass(frozen=True, slots=True)
class NotifiedObject:
    """One changed object named by a notification: its id and the change's timestamp (as sent;
    together with the event key it identifies the change, so a repeat is recognised)."""

    id: str
    timestamp: str


@dataclass(frozen=True, slots=True)
class Notification:
    """An ids-only delivery: which event, of which object type, for which objects."""

    event_key: str
    object_type: str | None
    objects: tuple[NotifiedObject, ...]


@runtime_checkable
class NotifyingPlatform(Protocol):
    """What a fetch-after-notify platform adds to `PlatformAdapter` (see the module's doc)."""

    platform: str

    def verify_hook_token(self, token: str, secrets: Sequence[str]) -> bool:
        """True if the hook URL's token is one of `secrets` (compared in constant time)."""
        ...

    def handshake_secret(self, headers: Mapping[str, str]) -> str | None:
        """The value to echo when the request is the subscription handshake, else None."""
        ...

    def parse_notification(self, body: bytes) -> Notification:
        """The ids-only body. Raises PayloadError naming what is wrong."""
        ...

    def fetches(self, event_key: str) -> bool:
        """Whether objects of this event are fetched and read as orders."""
        ...


# isinstance() against a runtime-checkable Protocol looks up each of its members every time:
# about 12 µs (timeit), asked on every webhook. An adapter's kind is its class's (the members
# are its methods), so the answer is kept per class.
_notifying_classes: dict[type, bool] = {}


def notifying(adapter: PlatformAdapter) -> NotifyingPlatform | None:
    """The adapter as a fetch-after-notify platform, or None when its deliveries are whole."""
    known = _notifying_classes.get(type(adapter))
    if known is None:
        known = _notifying_classes[type(adapter)] = isinstance(adapter, NotifyingPlatform)
    return cast(NotifyingPlatform, adapter) if known else None


def token_matches(token: str, secrets: Iterable[str]) -> bool:
    """Compare a presented token against each secret in constant time per comparison."""
    given = token.encode("utf-8", "replace")
    # No early exit, as in signature_matches: timing does not reveal which secret matched.
    results = [hmac.compare_digest(s.encode("utf-8", "replace"), given) for s in secrets if s]
    return any(results)


# --- helpers shared by adapters -------------------------------------------------------------


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    # HTTP/2 lower-cases header names and frameworks differ, so compare names case-insensitively.
    return {k.lower(): v for k, v in headers.items()}


def require_header(headers: Mapping[str, str], name: str) -> str:
    """`headers` must come from lower_keys(); `name` is given in its documented spelling."""
    value = headers.get(name.lower(), "").strip()
    if not value:
        raise MissingHeaderError(name)
    return value


def optional_header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name.lower(), "").strip()
    return value or None


def hmac_sha256_base64(key: bytes, raw_body: bytes) -> bytes:
    return base64.b64encode(hmac.new(key, raw_body, hashlib.sha256).digest())


def signature_matches(signature: str | None, raw_body: bytes, keys: Iterable[bytes]) -> bool:
    """Compare a base64 HMAC-SHA256 header against each key, in constant time per comparison."""
    if not signature:
        return False
    given = signature.strip().encode("utf-8", "replace")
    # No early exit: every candidate key is tried, so timing does not reveal which one matched.
    results = [hmac.compare_digest(hmac_sha256_base64(k, raw_body), given) for k in keys if k]
    return any(results)
