"""Async client for Shopify's GraphQL Admin API: locations, bulk stock reads, compare-and-set
stock writes, orders for reconciliation, and webhook subscriptions.

Every document it sends is a named `.graphql` file (`documents.py`). Calls are paced by
calculated query cost (`cost.CostPacer`); a THROTTLED answer (HTTP 200 with
`errors[].extensions.code = "THROTTLED"`) waits for the bucket to refill and is sent again, as
are 429s, 5xx answers and failed connections after a short backoff. Writes carry an
idempotency key that stays the same across those retries, so a retried write is applied once.

Bulk results are downloaded from the URL Shopify gives, which is not the shop's host: that
download goes without the access token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self

import httpx

from ..call_retry import NOT_SENT, CallRetry
from .cost import CostPacer, ThrottleStatus, shared_cost_pacer
from .documents import document
from .errors import (
    ShopifyAuthError,
    ShopifyError,
    ShopifyRateLimited,
    ShopifyRejected,
    ShopifyUnavailable,
)
from .gids import gid, number
from .gql_models import (
    BulkOperation,
    BulkStatus,
    Location,
    QuantityChange,
    SetOutcome,
    UserError,
    VariantStock,
    WebhookSubscription,
)
from .order_body import order_body as webhook_shaped
from .versions import API_VERSION, support_warning

log = logging.getLogger("lb_connectors.shopify_admin")

MAX_PAGE_SIZE = 250  # `first` and input lists: at most 250 (shopify.dev, usage/limits)
LEVELS_PER_CALL = 250  # nodes(ids:) of items with their level: 3 points each, 750 a call
# Before the first answer tells the real figure, a query is assumed to cost this much.
DEFAULT_COST_ESTIMATE = 10.0
_warned_versions: set[str] = set()
# Mutations that may have run when no answer came back, and carry no idempotency key.
NOT_REPEATABLE = frozenset({"WebhookSubscriptionCreate"})


@dataclass
class CallStats:
    calls: int = 0
    throttled: int = 0  # THROTTLED or 429 answers (each waited out and sent again)
    retried: int = 0  # every repeated attempt, for any reason
    failed: int = 0  # calls that ended in an error raised to the caller
    points: float = 0.0  # actual cost of every answered query (calculated query cost)


def _messages(errors: Iterable[Any]) -> str:
    return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)


def _codes(errors: Iterable[Any]) -> set[str]:
    codes = set()
    for e in errors:
        if isinstance(e, dict) and isinstance(e.get("extensions"), dict):
            code = e["extensions"].get("code")
            if code:
                codes.add(str(code))
    return codes


class ShopifyGraphQLClient:
    """One shop's GraphQL Admin API. Use as `async with ShopifyGraphQLClient(...) as shop:`."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        api_version: str = API_VERSION,
        plan: str = "standard",
        pacer: CostPacer | None = None,
        timeout: float = 30,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: CallRetry | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_throttled: int = 30,
        bulk_poll_seconds: float = 1.0,
        bulk_timeout_seconds: float = 3600.0,
    ) -> None:
        self.api_version = api_version
        # One pacer per shop in this process, shared by every client of it (see cost.py).
        self.pacer = pacer or shared_cost_pacer(base_url, access_token, plan)
        self.stats = CallStats()
        self._retry = retry or CallRetry()
        self._sleep = sleep
        self._max_throttled = max_throttled
        self._bulk_poll = bulk_poll_seconds
        self._bulk_timeout = bulk_timeout_seconds
        self._estimates: dict[str, float] = {}
        self._http = httpx.AsyncClient(
            base_url=f"{base_url.rstrip('/')}/admin/api/{api_version}/",
            headers={
                "X-Shopify-Access-Token": access_token,
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
            timeout=timeout,
            transport=transport,
        )
        # Bulk results live on another host (signed storage URLs): no token goes there.
        self._download = httpx.AsyncClient(timeout=timeout, transport=transport)
        warning = support_warning(api_version)
        if warning and api_version not in _warned_versions:
            _warned_versions.add(api_version)
            log.warning(warning, extra={"data": {"shopify_api_version": api_version}})

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._download.aclose()

    @property
    def points_used(self) -> float:
        return self.stats.points

    # --- transport ------------------------------------------------------------------------

    async def execute(
        self, name: str, variables: dict[str, Any] | None = None, *, what: str
    ) -> dict[str, Any]:
        """Send the named document; the `data` of the answer.

        THROTTLED answers (and 429s) wait for the bucket and go again, up to `max_throttled`
        times (then ShopifyRateLimited). A failed connection, a 5xx or an INTERNAL_SERVER_ERROR
        goes again within the quick-retry budget (`CallRetry`) when the document may be sent
        twice: every query, and mutations that are idempotent or carry an idempotency key (the
        key stays the same across these tries). Raises ShopifyAuthError, ShopifyRejected or
        ShopifyUnavailable."""
        body = json.dumps(
            {"query": document(name), "variables": variables or {}, "operationName": name}
        ).encode()
        repeatable = name not in NOT_REPEATABLE
        attempt, waited, throttled = 1, 0.0, 0
        while True:
            estimate = self._estimates.get(name, DEFAULT_COST_ESTIMATE)
            await self.pacer.before_call(estimate)
            self.stats.calls += 1
            try:
                response = await self._http.post("graphql.json", content=body)
            except httpx.HTTPError as exc:
                self.pacer.observe(None, reserved=estimate)
                error: ShopifyError = ShopifyUnavailable(
                    f"Shopify could not be reached for {what}.", detail=type(exc).__name__
                )
                if not (repeatable or isinstance(exc, NOT_SENT)):
                    self.stats.failed += 1
                    raise error from exc
            else:
                outcome = self._read_answer(name, response, estimate, what=what)
                if isinstance(outcome, dict):
                    return outcome
                if outcome == "throttled":
                    throttled += 1
                    self.stats.throttled += 1
                    if throttled > self._max_throttled:
                        self.stats.failed += 1
                        raise ShopifyRateLimited(
                            f"Shopify kept throttling {what}; it will be tried again later."
                        )
                    self.stats.retried += 1
                    continue
                error = outcome
                if not repeatable:
                    self.stats.failed += 1
                    raise error
            wait = self._retry.wait_before(attempt + 1, None)
            if not self._retry.allows(attempt + 1, waited, wait):
                self.stats.failed += 1
                raise error
            log.info("Shopify %s failed (%s); trying again in %.2f s", name, error.reason, wait)
            self.stats.retried += 1
            await self._sleep(wait)
            waited += wait
            attempt += 1

    def _read_answer(
        self, name: str, response: httpx.Response, estimate: float, *, what: str
    ) -> dict[str, Any] | Literal["throttled"] | ShopifyUnavailable:
        """The data of a good answer, "throttled" (the pacer now waits for the bucket), an
        error worth another try; raises for the others."""
        status_code = response.status_code
        if status_code in (401, 403):
            self.pacer.observe(None, reserved=estimate)
            self.stats.failed += 1
            error: ShopifyError = ShopifyAuthError(
                f"Shopify refused the access token while reading or writing {what}.",
                detail=response.text[:300] or None,
            )
            error.status = status_code
            raise error
        if status_code == 429:
            self.pacer.observe(None, reserved=estimate)
            retry_after = response.headers.get("Retry-After")
            try:
                seconds = float(retry_after) if retry_after else 1.0
            except ValueError:
                seconds = 1.0
            self.pacer.hold(seconds)
            return "throttled"
        if status_code >= 500:
            self.pacer.observe(None, reserved=estimate)
            unavailable = ShopifyUnavailable(
                f"Shopify is busy or unavailable ({status_code}) for {what}; it will be tried "
                "again."
            )
            unavailable.status = status_code
            return unavailable
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not response.is_success:
            self.pacer.observe(None, reserved=estimate)
            self.stats.failed += 1
            raise ShopifyRejected(
                f"Shopify rejected {what} ({status_code}).", detail=response.text[:300] or None
            )
        extensions = payload.get("extensions") or {}
        cost = extensions.get("cost") if isinstance(extensions, dict) else None
        status = ThrottleStatus.from_extensions(extensions)
        requested = cost.get("requestedQueryCost") if isinstance(cost, dict) else None
        actual = cost.get("actualQueryCost") if isinstance(cost, dict) else None
        if isinstance(requested, int | float):
            self._estimates[name] = float(requested)
        errors = payload.get("errors") or []
        codes = _codes(errors)
        if "THROTTLED" in codes:
            self.pacer.throttled(status, float(requested or estimate))
            return "throttled"
        self.pacer.observe(status, reserved=estimate)
        if isinstance(actual, int | float):
            self.stats.points += float(actual)
        if "INTERNAL_SERVER_ERROR" in codes:
            return ShopifyUnavailable(
                f"Shopify had an internal error with {what}; it will be tried again.",
                detail=_messages(errors),
            )
        if errors:
            self.stats.failed += 1
            if "ACCESS_DENIED" in codes:
                raise ShopifyAuthError(
                    f"Shopify denied access to {what}: the app lacks a scope.",
                    detail=_messages(errors),
                )
            raise ShopifyRejected(f"Shopify rejected {what}.", detail=_messages(errors))
        data = payload.get("data")
        if not isinstance(data, dict):
            self.stats.failed += 1
            raise ShopifyRejected(f"Shopify answered {what} without data.")
        return data

    async def _nodes(
        self, name: str, root: str, variables: dict[str, Any], *, what: str
    ) -> AsyncIterator[dict[str, Any]]:
        """Follow a connection's cursor (`nodes` + `pageInfo`) to its end."""
        after: str | None = None
        seen: set[str] = set()
        while True:
            data = await self.execute(
                name, {**variables, "first": MAX_PAGE_SIZE, "after": after}, what=what
            )
            connection = data[root]
            for node in connection["nodes"]:
                yield node
            info = connection["pageInfo"]
            after = info.get("endCursor")
            if not info.get("hasNextPage") or not after or after in seen:
                return  # a cursor that does not move forward would loop for ever
            seen.add(after)

    # --- locations ------------------------------------------------------------------------

    async def list_locations(self, *, include_inactive: bool = True) -> list[Location]:
        return [
            Location.model_validate(node)
            async for node in self._nodes(
                "Locations",
                "locations",
                {"includeInactive": include_inactive},
                what="the locations",
            )
        ]

    # --- bulk operations ------------------------------------------------------------------

    async def run_bulk_query(self, query: str) -> BulkOperation:
        data = await self.execute(
            "BulkOperationRunQuery", {"query": query}, what="starting a bulk read"
        )
        payload = data["bulkOperationRunQuery"]
        errors = [UserError.model_validate(e) for e in payload.get("userErrors") or []]
        if errors:
            text = "; ".join(e.message for e in errors)
            if any(e.code == "OPERATION_IN_PROGRESS" for e in errors):
                raise ShopifyUnavailable(
                    "Shopify is still running another bulk read for this app; the sync will be "
                    "tried again.",
                    detail=text,
                )
            raise ShopifyRejected("Shopify refused the bulk read.", detail=text)
        return BulkOperation.model_validate(payload["bulkOperation"])

    async def bulk_operation(self, operation_id: str) -> BulkOperation:
        data = await self.execute(
            "BulkOperation", {"id": operation_id}, what="the bulk read's progress"
        )
        if data.get("bulkOperation") is None:
            raise ShopifyRejected(f"Shopify does not know bulk operation {operation_id}.")
        return BulkOperation.model_validate(data["bulkOperation"])

    async def wait_for_bulk(self, operation: BulkOperation) -> BulkOperation:
        """Poll until the operation is done (or take a BULK_OPERATIONS_FINISH webhook and call
        `bulk_operation` once); a failed one raises ShopifyUnavailable."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._bulk_timeout
        poll = min(0.05, self._bulk_poll)  # small operations finish in well under a second
        while not operation.done:
            if loop.time() > deadline:
                raise ShopifyUnavailable(
                    f"Shopify's bulk read {operation.id} did not finish in time."
                )
            await asyncio.sleep(poll)
            poll = min(self._bulk_poll, poll * 2)
            operation = await self.bulk_operation(operation.id)
        if operation.status is not BulkStatus.COMPLETED:
            raise ShopifyUnavailable(
                f"Shopify's bulk read ended {operation.status.value.lower()}"
                + (f" ({operation.error_code})" if operation.error_code else "")
                + "; the sync will be tried again."
            )
        return operation

    async def stream_jsonl(self, url: str | None) -> AsyncIterator[dict[str, Any]]:
        """The result lines of a completed bulk operation, read as they arrive."""
        if url is None:
            return  # Shopify gives no URL when the query matched nothing
        async with self._download.stream("GET", url) as response:
            if not response.is_success:
                raise ShopifyUnavailable(
                    f"The bulk read's result could not be downloaded ({response.status_code})."
                )
            async for line in response.aiter_lines():
                if line.strip():
                    yield json.loads(line)

    async def read_stock(self) -> list[VariantStock]:
        """Every variant with its SKU, inventory item and `available` per location, by one bulk
        operation (a few points, whatever the catalogue's size)."""
        operation = await self.wait_for_bulk(await self.run_bulk_query(document("StockBulkQuery")))
        variants: dict[str, dict[str, Any]] = {}
        levels: list[dict[str, Any]] = []
        async for line in self.stream_jsonl(operation.url):
            if "__parentId" in line:
                levels.append(line)  # after their variant, though not always right after it
            else:
                variants[line["id"]] = line
        available: dict[str, dict[str, int | None]] = {key: {} for key in variants}
        # A level's parent is its variant; should it name the inventory item instead, that
        # leads to the same variant.
        owner = {(line.get("inventoryItem") or {}).get("id"): key for key, line in variants.items()}
        for level in levels:
            parent = level["__parentId"]
            found = available.get(parent, available.get(owner.get(parent, "")))
            if found is None:
                continue
            quantity = next(
                (q["quantity"] for q in level.get("quantities") or [] if q["name"] == "available"),
                None,
            )
            found[level["location"]["id"]] = quantity
        stock = []
        for key, line in variants.items():
            product = (line.get("product") or {}).get("title") or ""
            title = line.get("title") or ""
            item = line.get("inventoryItem") or {}
            stock.append(
                VariantStock(
                    variant_id=key,
                    sku=(line.get("sku") or "").strip() or None,
                    title=product if title in ("", "Default Title") else f"{product} / {title}",
                    inventory_item_id=item.get("id", ""),
                    tracked=bool(item.get("tracked", True)),
                    available=available[key],
                )
            )
        return stock

    # --- stock levels -----------------------------------------------------------------------

    async def levels(
        self, inventory_item_ids: Sequence[str], location_id: str
    ) -> dict[str, int | None]:
        """`available` of these items at one location, by item number (None: not stocked
        there, or the item is gone)."""
        found: dict[str, int | None] = {}
        ids = [gid("InventoryItem", i) for i in inventory_item_ids]
        for start in range(0, len(ids), LEVELS_PER_CALL):
            chunk = ids[start : start + LEVELS_PER_CALL]
            data = await self.execute(
                "InventoryLevels",
                {"ids": chunk, "locationId": gid("Location", location_id)},
                what="the stock levels",
            )
            for requested, node in zip(chunk, data["nodes"], strict=True):
                level = (node or {}).get("inventoryLevel")
                quantities = (level or {}).get("quantities") or []
                found[number(requested)] = next(
                    (q["quantity"] for q in quantities if q["name"] == "available"), None
                )
        return found

    async def set_quantities(
        self,
        changes: Sequence[QuantityChange],
        *,
        reason: str = "correction",
        reference: str | None = None,
    ) -> SetOutcome:
        """Set `available` by compare-and-set, 250 quantities a call. A quantity whose figure
        moved since we read it is not written but returned as `stale`; one Shopify refuses
        for another reason (item gone, not stocked at the location) as `refused`."""
        outcome = SetOutcome()
        for start in range(0, len(changes), MAX_PAGE_SIZE):
            await self._set_batch(
                list(changes[start : start + MAX_PAGE_SIZE]), outcome, reason, reference
            )
        return outcome

    async def _set_batch(
        self,
        batch: list[QuantityChange],
        outcome: SetOutcome,
        reason: str,
        reference: str | None,
    ) -> None:
        while batch:
            quantities = [
                {
                    "inventoryItemId": gid("InventoryItem", c.inventory_item_id),
                    "locationId": gid("Location", c.location_id),
                    "quantity": c.quantity,
                    # Explicit null opts out of the check (only when we have no figure).
                    "changeFromQuantity": c.change_from,
                }
                for c in batch
            ]
            data_input: dict[str, Any] = {
                "name": "available",
                "reason": reason,
                "quantities": quantities,
            }
            if reference:
                data_input["referenceDocumentUri"] = reference
            # One key per distinct request: retries of this very request reuse it (execute
            # resends the same body), a resend without the refused quantities gets a new one.
            data = await self.execute(
                "InventorySetQuantities",
                {"input": data_input, "idempotencyKey": str(uuid.uuid4())},
                what="setting stock levels",
            )
            payload = data["inventorySetQuantities"]
            errors = [UserError.model_validate(e) for e in payload.get("userErrors") or []]
            if not errors:
                outcome.applied.extend(batch)
                return
            bad: dict[int, UserError] = {}
            for error in errors:
                index = _quantity_index(error.field)
                if index is None or not 0 <= index < len(batch):
                    raise ShopifyRejected(
                        "Shopify refused the stock levels.", detail=f"{error.code}: {error.message}"
                    )
                bad.setdefault(index, error)
            for index, error in sorted(bad.items()):
                if error.code == "CHANGE_FROM_QUANTITY_STALE":
                    outcome.stale.append(batch[index])
                else:
                    outcome.refused.append((batch[index], error.message))
            rest = [c for i, c in enumerate(batch) if i not in bad]
            if payload.get("inventoryAdjustmentGroup") is not None:
                outcome.applied.extend(rest)  # applied apart from the refused ones
                return
            batch = rest  # nothing was applied: send the others again

    # --- orders -----------------------------------------------------------------------------

    async def iter_order_versions(
        self, updated_since: datetime
    ) -> AsyncIterator[tuple[str, datetime]]:
        """(order number, updatedAt) of every order updated at or after `updated_since`."""
        query = f"updated_at:>='{utc_text(updated_since)}'"
        async for node in self._nodes(
            "OrdersUpdatedSince", "orders", {"query": query}, what="the order list"
        ):
            updated = datetime.fromisoformat(str(node["updatedAt"]).replace("Z", "+00:00"))
            yield str(node["legacyResourceId"]), updated

    async def order_body(self, order_number: str) -> dict[str, Any] | None:
        """One order in the shape the orders/* webhooks carry, with every line and every refund
        (`refunds[]`, as REST order bodies carry them), or None if it is gone. An order longer
        than one read takes is read in pages; a refund in more than one read's worth of
        shipping lines, adjustments or transactions is refused by name."""
        order_gid = gid("Order", order_number)
        what = f"order {order_number}"
        data = await self.execute("OrderForReconcile", {"id": order_gid}, what=what)
        order = data.get("order")
        if order is None:
            return None
        lines = list(order["lineItems"]["nodes"])
        info = order["lineItems"]["pageInfo"]
        while info["hasNextPage"]:
            data = await self.execute(
                "OrderLineItems", {"id": order_gid, "after": info["endCursor"]}, what=what
            )
            if data.get("order") is None:
                return None  # deleted while we read it
            lines += data["order"]["lineItems"]["nodes"]
            info = data["order"]["lineItems"]["pageInfo"]
        name = order.get("name") or order_number
        refunds = [await self._refund(r["id"], name) for r in order.get("refunds") or []]
        return webhook_shaped(order, lines=lines, refunds=[r for r in refunds if r is not None])

    async def _refund(self, refund_id: str, order_name: str) -> dict[str, Any] | None:
        what = f"a refund of order {order_name}"
        data = await self.execute("RefundForReconcile", {"id": refund_id}, what=what)
        refund = data.get("refund")
        if refund is None:
            return None
        for part in ("refundShippingLines", "orderAdjustments", "transactions"):
            if refund[part]["pageInfo"]["hasNextPage"]:
                raise ShopifyRejected(
                    f"Refund {refund.get('legacyResourceId')} of order {order_name} has more "
                    f"{part} than one read takes, so it is left to its webhook."
                )
        items = refund["refundLineItems"]
        lines = list(items["nodes"])
        while items["pageInfo"]["hasNextPage"]:
            data = await self.execute(
                "RefundForReconcile",
                {"id": refund_id, "after": items["pageInfo"]["endCursor"]},
                what=what,
            )
            if data.get("refund") is None:
                return None
            items = data["refund"]["refundLineItems"]
            lines += items["nodes"]
        return {**refund, "refundLineItems": {"nodes": lines}}

    # --- webhook subscriptions --------------------------------------------------------------

    async def create_webhook_subscription(
        self, topic: str, uri: str, *, format: str = "JSON"
    ) -> WebhookSubscription:
        data = await self.execute(
            "WebhookSubscriptionCreate",
            {"topic": topic, "webhookSubscription": {"uri": uri, "format": format}},
            what=f"the {topic} webhook subscription",
        )
        payload = data["webhookSubscriptionCreate"]
        errors = [UserError.model_validate(e) for e in payload.get("userErrors") or []]
        if errors or payload.get("webhookSubscription") is None:
            raise ShopifyRejected(
                f"Shopify refused the {topic} webhook subscription.",
                detail="; ".join(e.message for e in errors) or None,
            )
        return WebhookSubscription.model_validate(payload["webhookSubscription"])

    async def delete_webhook_subscription(self, subscription_id: str) -> bool:
        """Delete one subscription; False if it was already gone (a repeat is harmless)."""
        data = await self.execute(
            "WebhookSubscriptionDelete", {"id": subscription_id}, what="a webhook subscription"
        )
        payload = data["webhookSubscriptionDelete"]
        return payload.get("deletedWebhookSubscriptionId") is not None

    async def webhook_subscriptions(self) -> list[WebhookSubscription]:
        return [
            WebhookSubscription.model_validate(node)
            async for node in self._nodes(
                "WebhookSubscriptions", "webhookSubscriptions", {}, what="the webhook subscriptions"
            )
        ]


def _quantity_index(path: Sequence[str] | None) -> int | None:
    """The quantity a user error names: its `field` is like ["input", "quantities", "3", …]."""
    if not path:
        return None
    parts = list(path)
    try:
        at = parts.index("quantities")
        return int(parts[at + 1])
    except (ValueError, IndexError):
        return None


def utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("the time must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
