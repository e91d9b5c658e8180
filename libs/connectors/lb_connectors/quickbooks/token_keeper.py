"""Access tokens for a connection, refreshed so that the newest refresh token is never lost.

Intuit rotates the refresh token on every refresh and the one sent stops working, so the order
of steps is the guarantee:
1. Only one refresher per connection at a time, across processes: a lease
   (`quickbooks-refresh:<connection>`, lb_common/leases.py) plus a lock per process (the lease
   is per holder, and the coroutines of one process share a holder).
2. Under the lease, read the tokens again: if another process refreshed meanwhile (the row's
   version moved and its access token is fresh), use those and do not refresh.
3. Refresh, then seal and store the new pair (compare-and-set on the version) before the new
   access token is handed out, so no call runs on tokens that are not on disk yet.
A process that finds the lease taken waits for the row's version to move and uses the winner's
tokens. What no order of steps can save: a crash, or a lost reply, between Intuit issuing the
new pair and the row being written. Intuit has then retired the old refresh token, and the
connection has to be connected again (the error says so).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx

from lb_common import leases
from lb_common.db import Database
from lb_common.errors import Contention

from . import oauth
from .errors import QuickBooksAuthError
from .oauth import OAuthApp, TokenSet
from .token_vault import StoredTokens, TokenVault

LEASE_TTL = 30.0


class TokenKeeper:
    def __init__(
        self,
        vault: TokenVault,
        app: OAuthApp,
        db: Database,
        *,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        holder: str | None = None,
        wait_for_other: float = 20.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        before_store: Callable[[], Awaitable[None]] | None = None,
        prepare: Callable[[], Awaitable[None]] | None = None,
        owns_db: bool = False,
    ) -> None:
        self._owns_db = owns_db
        self._vault = vault
        self._app = app
        self._db = db
        # Well inside the lease's 30 s, so a slow token call cannot outlive the lease.
        self._http = http or httpx.AsyncClient(timeout=10, transport=transport)
        self._holder = holder or leases.new_holder("quickbooks")
        self._wait = wait_for_other
        self._sleep = sleep
        self._locks: dict[str, asyncio.Lock] = {}
        # The last tokens read or written per connection: an access token stays usable until it
        # expires even after another process refreshed, so a call needs no database read.
        self._known: dict[str, StoredTokens] = {}
        # Tests: runs between Intuit's answer and the store (a crash there loses the tokens).
        self._before_store = before_store
        self._prepare = prepare  # once, before the first read (e.g. create the tables)
        self._prepared = asyncio.Lock()

    async def _ready(self) -> None:
        if self._prepare is None:
            return
        async with self._prepared:
            if self._prepare is not None:
                await self._prepare()
                self._prepare = None

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._owns_db:
            await self._db.dispose()

    async def current(self, connection: str) -> StoredTokens:
        """The stored tokens, refreshed first when the access token is (nearly) expired."""
        await self._ready()
        known = self._known.get(connection)
        if known is not None and known.tokens.access_valid(datetime.now(UTC)):
            return known
        stored = await self._vault.load(connection)
        if stored is None:
            raise QuickBooksAuthError(
                f"connection {connection!r} has no QuickBooks tokens: connect the QuickBooks "
                "company on ingest (the OAuth consent) first"
            )
        if stored.tokens.access_valid(datetime.now(UTC)):
            self._known[connection] = stored
            return stored
        return await self.refresh(connection, stored)

    async def refresh(self, connection: str, seen: StoredTokens) -> StoredTokens:
        """New tokens, unless someone already replaced `seen` (then theirs)."""
        lock = self._locks.setdefault(connection, asyncio.Lock())
        deadline = time.monotonic() + self._wait
        async with lock:
            while True:
                name = f"quickbooks-refresh:{connection}"
                if await leases.acquire(self._db, name, self._holder, LEASE_TTL):
                    try:
                        fresh = await self._refresh_holding(connection, seen)
                    finally:
                        await leases.release(self._db, name, self._holder)
                    self._known[connection] = fresh
                    return fresh
                newer = await self._vault.load(connection)
                if newer is not None and newer.version != seen.version:
                    self._known[connection] = newer
                    return newer
                if time.monotonic() > deadline:
                    raise Contention(
                        f"another process has been refreshing connection {connection!r}'s "
                        f"QuickBooks tokens for over {self._wait:.0f} s",
                        retry_after=5,
                    )
                await self._sleep(0.2)

    async def _refresh_holding(self, connection: str, seen: StoredTokens) -> StoredTokens:
        current = await self._vault.load(connection)
        if current is None:
            raise QuickBooksAuthError(f"connection {connection!r} lost its QuickBooks tokens")
        if current.version != seen.version and current.tokens.access_valid(datetime.now(UTC)):
            return current  # refreshed by another process while we waited for the lease
        fresh: TokenSet = await oauth.refresh(self._http, self._app, current.tokens)
        if self._before_store is not None:
            await self._before_store()
        stored = await self._vault.replace(connection, current.version, fresh)
        if stored is None:
            # Only a new consent writes without the lease; its tokens win.
            newer = await self._vault.load(connection)
            assert newer is not None
            return newer
        return stored
