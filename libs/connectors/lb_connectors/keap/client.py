"""Keap's REST API v1, as ingest needs it: an order and a contact by id, orders changed since a
time (reconciliation), the account's currency, and the REST hook subscriptions.

Authenticates with X-Keap-API-Key (a service account key or personal access token [KPAT]).
Reads are retried quickly on network errors and 5xx (`call_retry`); hook writes are not (a
repeated subscription would be a second hook). No hook URL appears in an error or a log line:
it carries the connection's secret token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from ..call_retry import NOT_SENT, CallRetry, may_repeat
from ..shared_budget import process_wide
from .errors import KeapError, KeapRateLimited, KeapUnavailable, error_from_response
from .pacing import MAX_WAIT, KeapPacer

PAGE = 200


@dataclass(frozen=True)
class KeapHook:
    key: str
    event_key: str
    hook_url: str  # secret: never log it
    status: str  # Verified | Unverified | Inactive

    def __repr__(self) -> str:
        return f"KeapHook({self.key!r}, {self.event_key!r}, status={self.status!r})"

    @classmethod
    def of(cls, body: Any) -> KeapHook:
        return cls(str(body["key"]), body["eventKey"], body["hookUrl"], body["status"])


class KeapClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        requests_per_minute: int = 240,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: CallRetry | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"X-Keap-API-Key": api_key, "Accept": "application/json"},
            transport=transport,
            timeout=30.0,
        )
        self._retry = retry or CallRetry()
        self.pacer = process_wide(
            "keap", (base_url, api_key), lambda: KeapPacer(requests_per_minute)
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- reads ------------------------------------------------------------------------------

    async def order(self, order_id: str) -> dict[str, Any] | None:
        """The order, or None when Keap has none by that id (deleted since it was named)."""
        return await self._get_or_none(f"/v1/orders/{order_id}", f"order {order_id}")

    async def contact(self, contact_id: str) -> dict[str, Any] | None:
        return await self._get_or_none(f"/v1/contacts/{contact_id}", f"contact {contact_id}")

    async def currency(self) -> str:
        profile = await self._call("GET", "/v1/account/profile", what="the account profile")
        code = profile.get("currency_code") if isinstance(profile, dict) else None
        if not isinstance(code, str) or len(code.strip()) != 3:
            raise KeapError("Keap's account profile names no currency_code")
        return code.strip().upper()

    async def orders_since(self, since: datetime) -> AsyncIterator[dict[str, Any]]:
        """Every order changed since `since`, page by page (limit and offset)."""
        offset = 0
        while True:
            params = {"since": since.isoformat(), "limit": str(PAGE), "offset": str(offset)}
            page = await self._call("GET", "/v1/orders", what="orders since", params=params)
            orders = page.get("orders") or []
            for order in orders:
                yield order
            offset += len(orders)
            if not orders or not page.get("next"):
                return

    # --- REST hooks ----------------------------------------------------------------------------

    async def event_keys(self) -> list[str]:
        found = await self._call("GET", "/v1/hooks/event_keys", what="the hook event keys")
        return [str(k) for k in found]

    async def hooks(self) -> list[KeapHook]:
        found = await self._call("GET", "/v1/hooks", what="the hook subscriptions")
        return [KeapHook.of(h) for h in found]

    async def create_hook(self, event_key: str, hook_url: str) -> KeapHook:
        body = {"eventKey": event_key, "hookUrl": hook_url}
        made = await self._call("POST", "/v1/hooks", what=f"a {event_key} hook", json=body)
        return KeapHook.of(made)

    async def verify_hook(self, key: str) -> KeapHook:
        return KeapHook.of(await self._call("POST", f"/v1/hooks/{key}/verify", what=f"hook {key}"))

    async def delete_hook(self, key: str) -> None:
        await self._call("DELETE", f"/v1/hooks/{key}", what=f"hook {key}")

    # --- transport ----------------------------------------------------------------------------

    async def _get_or_none(self, path: str, what: str) -> dict[str, Any] | None:
        try:
            found = await self._call("GET", path, what=what)
        except KeapError as exc:
            if exc.status == 404:
                return None
            raise
        return found if isinstance(found, dict) else None

    async def _call(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        attempt, waited = 1, 0.0
        while True:
            held = self.pacer.held_for()
            if held > MAX_WAIT:
                raise KeapRateLimited(
                    f"Keap's quota for this API key is spent until the next minute; {what} "
                    "will be read again then.",
                    retry_after=held,
                )
            await self.pacer.wait()
            try:
                answer = await self._http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                error: KeapError = KeapUnavailable(
                    f"Keap could not be reached while reading {what}; it will be tried again.",
                    detail=type(exc).__name__,
                )
                repeatable = isinstance(exc, NOT_SENT) or may_repeat(method, idempotent=False)
            else:
                hold = self.pacer.observe(answer.status_code, answer.headers)
                if answer.status_code < 400:
                    return answer.json() if answer.content else None
                body = _json_or_none(answer)
                error = error_from_response(answer.status_code, body, what=what, retry_after=hold)
                repeatable = answer.status_code >= 500 and may_repeat(method, idempotent=False)
            attempt += 1
            wait = self._retry.wait_before(attempt, None)
            if not repeatable or not self._retry.allows(attempt, waited, wait):
                raise error
            waited += wait
            await asyncio.sleep(wait)


def _json_or_none(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None
