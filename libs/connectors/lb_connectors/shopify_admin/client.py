"""Async client for Shopify's Admin REST API (products, locations, inventory levels, orders).

Every call this client makes is a read or an idempotent set (inventory_levels/set.json writes an
absolute quantity), so each may be sent again: a 429 after waiting Retry-After, a 5xx or a failed
connection after a short backoff with jitter, a few times within a budget of seconds
(`lb_connectors.call_retry.CallRetry`, the rule for which calls may be repeated is there). What
still fails goes up as ShopifyUnavailable / ShopifyRateLimited for the retry queues. It paces
itself from X-Shopify-Shop-Api-Call-Limit so a long scan or sync keeps under the leaky bucket
instead of meeting 429s.

Pages are followed through the Link header's rel="next", but only its `page_info` and `limit`
are taken: requests keep going to our own base URL, so the token never goes to another host.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import httpx

from ..call_retry import NOT_SENT, CallRetry, may_repeat
from .errors import ShopifyError, ShopifyUnavailable, error_from_response
from .models import InventoryLevel, ShopLocation, ShopProduct
from .ratelimit import CallLimitPacer

log = logging.getLogger("lb_connectors.shopify_admin")

API_VERSION = "2025-01"
MAX_PAGE_SIZE = 250
MAX_ITEM_IDS = 50  # inventory_levels.json takes at most 50 inventory_item_ids


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


@dataclass
class CallStats:
    calls: int = 0
    throttled: int = 0  # 429 answers (each was waited out and retried)
    retried: int = 0  # every repeated attempt, for any reason
    failed: int = 0  # calls that ended in an error raised to the caller


class ShopifyAdminClient:
    """One shop's Admin API. Use as `async with ShopifyAdminClient(...) as shop:`."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        api_version: str = API_VERSION,
        timeout: float = 30,
        transport: httpx.AsyncBaseTransport | None = None,
        pacer: CallLimitPacer | None = None,
        retry: CallRetry | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.pacer = pacer or CallLimitPacer()
        self.stats = CallStats()
        self._retry = retry or CallRetry()
        self._sleep = sleep
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

    # --- transport ------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, str | int] | None = None,
        body: Any = None,
        idempotent: bool = False,
    ) -> httpx.Response:
        content = json.dumps(body).encode() if body is not None else None
        repeatable = may_repeat(method, idempotent=idempotent)
        attempt, waited = 1, 0.0
        while True:
            await self.pacer.before_call()
            self.stats.calls += 1
            retry_after: float | None = None
            try:
                response = await self._http.request(method, path, params=params, content=content)
            except httpx.HTTPError as exc:
                self.pacer.abandon()
                error: ShopifyError = ShopifyUnavailable(
                    f"Shopify could not be reached for {what}.", detail=type(exc).__name__
                )
                if not (repeatable or isinstance(exc, NOT_SENT)):
                    self.stats.failed += 1
                    raise error from exc
            else:
                retry_after = _retry_after(response)
                self.pacer.observe(response.headers, response.status_code, retry_after)
                log.debug(
                    "shopify call",
                    extra={
                        "data": {"method": method, "path": path, "status": response.status_code}
                    },
                )
                if response.is_success:
                    return response
                try:
                    error_body = response.json() if response.content else None
                except ValueError:
                    error_body = None
                error = error_from_response(
                    response.status_code, error_body, what=what, retry_after=retry_after
                )
                status = response.status_code
                if status == 429:
                    self.stats.throttled += 1
                if not (status == 429 or (status >= 500 and repeatable)):
                    self.stats.failed += 1
                    raise error
            wait = self._retry.wait_before(attempt + 1, retry_after)
            if not self._retry.allows(attempt + 1, waited, wait):
                self.stats.failed += 1
                raise error
            log.info(
                "Shopify %s %s failed (%s); trying again in %.2f s",
                method,
                path,
                error.status or error.detail,
                wait,
            )
            self.stats.retried += 1
            await self._sleep(wait)
            waited += wait
            attempt += 1

    async def _get(self, path: str, *, what: str, params: dict[str, str | int]) -> httpx.Response:
        return await self._request("GET", path, what=what, params=params)

    async def _pages(
        self, path: str, key: str, *, what: str, params: dict[str, str | int]
    ) -> AsyncIterator[dict[str, Any]]:
        seen: set[str] = set()
        while True:
            response = await self._get(path, what=what, params=params)
            for item in response.json().get(key, []):
                yield item
            next_link = response.links.get("next", {}).get("url")
            if not next_link:
                return
            query = parse_qs(urlsplit(next_link).query)
            page_info = (query.get("page_info") or [""])[0]
            if not page_info or page_info in seen:
                return  # a link that does not move forward would loop for ever
            seen.add(page_info)
            params = {k: v for k, v in params.items() if k in ("limit", "fields")} | {
                "page_info": page_info
            }

    # --- resources ------------------------------------------------------------------------

    async def iter_products(self, *, page_size: int = MAX_PAGE_SIZE) -> AsyncIterator[ShopProduct]:
        params: dict[str, str | int] = {
            "limit": min(page_size, MAX_PAGE_SIZE),
            "fields": "id,title,status,variants",
        }
        async for item in self._pages(
            "products.json", "products", what="the product list", params=params
        ):
            yield ShopProduct.model_validate(item)

    async def list_locations(self) -> list[ShopLocation]:
        response = await self._get("locations.json", what="the locations", params={})
        return [ShopLocation.model_validate(i) for i in response.json().get("locations", [])]

    async def get_levels(
        self, inventory_item_ids: Sequence[int | str], location_ids: Sequence[int | str]
    ) -> list[InventoryLevel]:
        """Levels of these items at these locations (asked 50 items at a time)."""
        items = [int(i) for i in inventory_item_ids]
        locations = ",".join(str(int(i)) for i in location_ids)
        levels: list[InventoryLevel] = []
        for start in range(0, len(items), MAX_ITEM_IDS):
            params: dict[str, str | int] = {
                "inventory_item_ids": ",".join(map(str, items[start : start + MAX_ITEM_IDS])),
                "limit": MAX_PAGE_SIZE,
            }
            if locations:
                params["location_ids"] = locations
            async for item in self._pages(
                "inventory_levels.json", "inventory_levels", what="the stock levels", params=params
            ):
                levels.append(InventoryLevel.model_validate(item))
        return levels

    async def set_level(
        self, *, location_id: int | str, inventory_item_id: int | str, available: int
    ) -> InventoryLevel:
        body = {
            "location_id": int(location_id),
            "inventory_item_id": int(inventory_item_id),
            "available": int(available),
        }
        response = await self._request(
            "POST",
            "inventory_levels/set.json",
            what=f"the stock level of inventory item {inventory_item_id}",
            body=body,
            idempotent=True,  # sets an absolute quantity: sending it twice changes nothing
        )
        return InventoryLevel.model_validate(response.json()["inventory_level"])

    async def iter_orders(
        self,
        updated_at_min: datetime,
        *,
        status: str = "any",
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[dict[str, Any]]:
        """Raw order bodies (the same shape as the orders/* webhooks), for reconciliation."""
        if updated_at_min.tzinfo is None:
            raise ValueError("updated_at_min must be timezone-aware")
        params: dict[str, str | int] = {
            "updated_at_min": updated_at_min.astimezone(UTC).isoformat(),
            "status": status,
            "limit": min(page_size, MAX_PAGE_SIZE),
        }
        async for item in self._pages(
            "orders.json", "orders", what="the order list", params=params
        ):
            yield item
