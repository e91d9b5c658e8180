"""Receiving one webhook delivery: authenticate it, identify it, read it, hand it to the writer.

Everything here is CPU work on the request; the writer (fast_path/writer.py) stores the raw
bytes with what they mean, in group commits, and the answer goes out only after that commit.
Nothing waits on the broker or the ledger: messages leave through the outbox afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from lb_connectors.platforms.base import MissingHeaderError, notifying
from lb_connectors.platforms.registry import get_adapter
from lb_connectors.shopify_admin import webhook_version_warning
from lb_ingest.arrival import Arrival, WebhookAnswer, error_answer
from lb_ingest.connections import ConnectionCache
from lb_ingest.fast_path.identify import read_for_admission
from lb_ingest.fast_path.writer import DeliveryWriter
from lb_ingest.reading import read_arrival

log = logging.getLogger(__name__)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


_versions_warned: set[str] = set()


def note_api_version(platform: str, version: str | None) -> bool:
    """Warn in the log (once per version and process) when Shopify sends webhooks in another
    API version than the pinned one; each delivery keeps its version and shows the same warning
    (`GET /deliveries`). True when it warned."""
    warning = delivery_version_warning(platform, version)
    if warning is None or version in _versions_warned:
        return False
    _versions_warned.add(str(version))
    log.warning(warning, extra={"data": {"shopify_api_version": version}})
    return True


def delivery_version_warning(platform: str, version: str | None) -> str | None:
    """What is wrong with the API version a delivery came in, if anything."""
    return webhook_version_warning(version) if platform == "shopify" else None


async def receive_webhook(
    shop_connections: ConnectionCache,
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
    if notifying(adapter) is not None:
        return error_answer(
            404,
            f"a {platform} hook URL ends in the connection's token: "
            f"/webhooks/{platform}/{{connection}}/{{token}}",
        )
    shop_connection = await shop_connections.get(connection_name)
    if shop_connection is None or shop_connection.platform != platform:
        return error_answer(404, f"no {platform} connection named {connection_name!r}")
    if not shop_connection.enabled:
        return error_answer(403, f"connection {connection_name!r} is disabled")
    if adapter.is_ping(headers, body):
        return WebhookAnswer(200, {"status": "ping received"})
    content_type = _header(headers, "content-type")
    if content_type and "json" not in content_type.lower():
        return error_answer(415, f"expected a JSON body, got content type {content_type!r}")
    if not adapter.verify(headers, body, shop_connection.secrets):
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
                shop_connection=shop_connection,
                platform=platform,
                info=None,
                body=body,
                problem=str(exc),
            )
        )
        return WebhookAnswer(outcome.status_code, outcome.body)

    note_api_version(platform, info.api_version)
    # A writer that defers applying (role `web`) needs only the order's identity; the worker
    # reads the whole order when it applies it.
    read = read_for_admission if writer.defers else read_arrival
    arrival = read(adapter, shop_connection, info, body)
    if isinstance(arrival, WebhookAnswer):
        return arrival
    return await writer.submit(arrival)
