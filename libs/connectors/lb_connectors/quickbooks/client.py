"""Async client for QuickBooks Online's Accounting API v3, one connection (company) each.

Every call: an access token from the TokenKeeper (refreshed once and retried on a 401), a place
in the company's pacer (500 a minute, 10 at once), `minorversion` (75 unless set), and quick
retries (`CallRetry`) for 5xx, 429 and network failures. Reads are always safe to repeat; a POST
is repeated only with a `requestid`, which QuickBooks answers from the original reply, and every
create here carries one. What still fails goes up as a QuickBooksError of the right kind.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx

from ..call_retry import NOT_SENT, CallRetry
from .errors import (
    QuickBooksError,
    QuickBooksNotFound,
    QuickBooksStale,
    error_from_response,
    fault_errors,
    unavailable_from_exception,
)
from .pacer import CONCURRENT, PER_MINUTE, RealmPacer, shared_pacer
from .query import MAX_RESULTS, Select
from .token_keeper import TokenKeeper

log = logging.getLogger("lb_connectors.quickbooks")

MINOR_VERSION = 75
PRODUCTION_URL = "https://quickbooks.api.intuit.com"
SANDBOX_URL = "https://sandbox-quickbooks.api.intuit.com"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return None


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")  # QuickBooks reads numbers from strings too; exact
    if isinstance(value, Mapping):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


class QuickBooksClient:
    def __init__(
        self,
        base_url: str,
        connection: str,
        keeper: TokenKeeper,
        *,
        realm_id: str,
        minor_version: int = MINOR_VERSION,
        timeout: float = 30,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: CallRetry | None = None,
        pacer: RealmPacer | None = None,
        per_minute: int = PER_MINUTE,
        concurrent: int = CONCURRENT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.connection = connection
        self.realm_id = realm_id
        self.keeper = self._keeper = keeper
        self._minor = minor_version
        self._retry = retry or CallRetry()
        self._sleep = sleep
        self._pacer = pacer or shared_pacer(
            base_url, realm_id, per_minute=per_minute, concurrent=concurrent
        )
        self._http = httpx.AsyncClient(
            base_url=f"{base_url.rstrip('/')}/v3/company/{realm_id}/",
            headers={"Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- transport ------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        request_id: str | None = None,
    ) -> Any:
        query: dict[str, str] = {**(params or {}), "minorversion": str(self._minor)}
        if request_id is not None:
            query["requestid"] = request_id
        repeatable = method == "GET" or request_id is not None
        content = json.dumps(_encode(body)) if body is not None else None
        line = f"{method} {path}"
        stored = await self._keeper.current(self.connection)
        refreshed = False
        attempt, waited = 1, 0.0
        while True:
            headers = {"Authorization": f"Bearer {stored.tokens.access_token}"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            failure: QuickBooksError
            retry_after: float | None = None
            try:
                async with self._pacer.call():
                    response = await self._http.request(
                        method, path, params=query, content=content, headers=headers
                    )
            except httpx.HTTPError as exc:
                failure = unavailable_from_exception(exc, what=what, request_line=line)
                if not isinstance(exc, httpx.TransportError) or (
                    not isinstance(exc, NOT_SENT) and not repeatable
                ):
                    raise failure from exc
            else:
                status = response.status_code
                decoded = _decode(response)
                if status == 401 and not refreshed:
                    # Expired early or revoked: one refresh, then the same call again.
                    stored = await self._keeper.refresh(self.connection, stored)
                    refreshed = True
                    continue
                _, errors = fault_errors(decoded)
                if status < 400 and not errors:
                    return decoded
                retry_after = _retry_after(response)
                failure = error_from_response(
                    status, decoded, what=what, request_line=line, retry_after=retry_after
                )
                if status == 429:
                    self._pacer.throttled(retry_after)
                elif not (status >= 500 and repeatable):
                    raise failure
            wait = self._retry.wait_before(attempt + 1, retry_after)
            if not self._retry.allows(attempt + 1, waited, wait):
                raise failure
            log.info(
                "QuickBooks %s failed (%s); trying again in %.2f s", line, failure.reason, wait
            )
            await self._sleep(wait)
            waited += wait
            attempt += 1

    # --- generic --------------------------------------------------------------------------

    async def query(self, select: Select, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Every row the query finds (page by page with STARTPOSITION), or the first `limit`."""
        rows: list[dict[str, Any]] = []
        start = 1
        page_size = min(limit, MAX_RESULTS) if limit is not None else MAX_RESULTS
        while True:
            text = select.text(start=start, max_results=page_size)
            answer = await self._send(
                "GET", "query", what=f"the {select.entity} query", params={"query": text}
            )
            page = (answer or {}).get("QueryResponse", {}).get(select.entity, [])
            rows.extend(page)
            if len(page) < page_size or (limit is not None and len(rows) >= limit):
                return rows[:limit] if limit is not None else rows
            start += page_size

    async def read(self, entity: str, ident: str) -> dict[str, Any] | None:
        try:
            answer = await self._send("GET", f"{entity.lower()}/{ident}", what=f"{entity} {ident}")
        except QuickBooksNotFound:
            return None
        row: dict[str, Any] = answer[entity]
        return row

    async def create(
        self, entity: str, body: Mapping[str, Any], *, request_id: str
    ) -> dict[str, Any]:
        """Create once: a repeat with the same `request_id` gets the original answer."""
        answer = await self._send(
            "POST", entity.lower(), what=f"the new {entity}", body=body, request_id=request_id
        )
        row: dict[str, Any] = answer[entity]
        return row

    async def sparse_update(
        self,
        entity: str,
        current: Mapping[str, Any],
        fields: Mapping[str, Any],
        *,
        request_id: str,
    ) -> dict[str, Any]:
        """Change only `fields` of `current` (its Id and SyncToken say which version we read;
        QuickBooksStale if it moved on)."""
        body = {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True, **fields}
        answer = await self._send(
            "POST",
            entity.lower(),
            what=f"{entity} {current['Id']}",
            body=body,
            request_id=request_id,
        )
        row: dict[str, Any] = answer[entity]
        return row

    async def update_fields(
        self, entity: str, ident: str, fields: Mapping[str, Any], *, request_id: str, tries: int = 3
    ) -> dict[str, Any]:
        """Read, then sparse-update; read again and retry when the SyncToken went stale."""
        for attempt in range(1, tries + 1):
            current = await self.read(entity, ident)
            if current is None:
                raise QuickBooksNotFound(f"QuickBooks has no {entity} {ident} to update")
            try:
                # A new requestid per try: the stale answer of the last try must not replay.
                return await self.sparse_update(
                    entity, current, fields, request_id=f"{request_id[:45]}-{attempt}"
                )
            except QuickBooksStale:
                if attempt == tries:
                    raise
        raise AssertionError("unreachable")
