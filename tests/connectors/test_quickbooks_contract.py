"""The QuickBooks client against the sandbox's QuickBooks: tokens sealed per connection and
refreshed without losing the rotating refresh token, queries with escaping, the DisplayName
rule, items by SKU, documents made exactly once across lost replies, payments into Undeposited
Funds, refunds, SyncToken updates, faults mapped to our error kinds, and the throttle."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from lb_common.db import Database
from lb_common.errors import Contention, PermanentError, TransientError
from lb_common.leases import Lease
from lb_common.sealing import DEVELOPMENT_KEY, SecretBox
from lb_connectors.call_retry import CallRetry
from lb_connectors.quickbooks import (
    OAuthApp,
    QuickBooksAuthError,
    QuickBooksBooks,
    QuickBooksClient,
    QuickBooksNotFound,
    QuickBooksRateLimited,
    QuickBooksStale,
    QuickBooksTokenRow,
    QuickBooksUnavailable,
    QuickBooksValidationError,
    RealmPacer,
    SalesLine,
    Select,
    TokenKeeper,
    TokenVault,
    exchange_code,
)
from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings
from tests.support.stores import Store

HOST = "http://sandbox.test"
BASE = f"{HOST}/quickbooks"
REDIRECT = "https://ledgerbridge.test/quickbooks/callback"
APP = OAuthApp(
    "sandbox-qbo-client", "sandbox-qbo-secret", token_url=f"{BASE}/oauth2/v1/tokens/bearer"
)


class World:
    """The sandbox, one connection's vault and keeper, and a way to make more keepers (as
    other processes would have)."""

    def __init__(self, app: Any, db: Database, box: SecretBox) -> None:
        self.app = app
        self.transport = httpx.ASGITransport(app=app)
        self.raw = httpx.AsyncClient(transport=self.transport, base_url=HOST)
        self.db = db
        self.vault = TokenVault(db, box)
        self.connection = f"shop-{uuid.uuid4().hex[:8]}"
        self.realm = ""
        self.keepers: list[TokenKeeper] = []
        self.clients: list[QuickBooksClient] = []

    def keeper(self, **kwargs: Any) -> TokenKeeper:
        keeper = TokenKeeper(self.vault, APP, self.db, transport=self.transport, **kwargs)
        self.keepers.append(keeper)
        return keeper

    def client(self, keeper: TokenKeeper | None = None, **kwargs: Any) -> QuickBooksClient:
        kwargs.setdefault("retry", CallRetry(backoff=0.01))
        kwargs.setdefault("pacer", RealmPacer())
        client = QuickBooksClient(
            BASE,
            self.connection,
            keeper or self.keeper(),
            realm_id=self.realm,
            transport=self.transport,
            **kwargs,
        )
        self.clients.append(client)
        return client

    async def connect(self) -> None:
        """The consent flow, then the code exchanged and the tokens sealed in the vault."""
        params = {
            "client_id": APP.client_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "state": "x",
        }
        reply = await self.raw.get("/quickbooks/connect/oauth2", params=params)
        query = parse_qs(urlsplit(reply.headers["location"]).query)
        self.realm = query["realmId"][0]
        async with httpx.AsyncClient(transport=self.transport) as http:
            tokens = await exchange_code(http, APP, query["code"][0], REDIRECT, self.realm)
        await self.vault.connect(self.connection, tokens)

    async def admin(self, path: str, body: Any = None) -> Any:
        reply = await self.raw.post(f"/_sandbox/quickbooks{path}", json=body)
        assert reply.status_code < 300, reply.text
        return reply.json()

    async def fault(self, **spec: Any) -> None:
        await self.admin("/faults", {"agreement": self.realm, **spec})

    async def state(self, entity: str) -> list[dict[str, Any]]:
        reply = await self.raw.get(f"/_sandbox/quickbooks/companies/{self.realm}/state")
        rows: list[dict[str, Any]] = reply.json()["entities"][entity]
        return rows

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()
        for keeper in self.keepers:
            await keeper.aclose()
        await self.raw.aclose()


@pytest.fixture
async def world(store: Store) -> AsyncIterator[World]:
    db = Database(await store.url("quickbooks"))
    await db.create_tables([QuickBooksTokenRow, Lease])
    # The client's pacer keeps to 10 a second; the sandbox's check of it is tested on its own.
    app = create_app(
        SandboxSettings(
            quickbooks_requests_per_minute=10_000, quickbooks_requests_per_second=10_000
        )
    )
    w = World(app, db, SecretBox([DEVELOPMENT_KEY]))
    await w.connect()
    try:
        yield w
    finally:
        await w.close()
        await db.dispose()


@pytest.fixture
def books(world: World) -> QuickBooksBooks:
    return QuickBooksBooks(world.client())


def service_item(name: str, sku: str) -> dict[str, Any]:
    return {"Name": name, "Sku": sku, "Type": "Service", "IncomeAccountRef": {"value": "1"}}


async def customer_and_item(world: World, books: QuickBooksBooks) -> tuple[str, str]:
    customer = await books.create_customer(
        "Buyer", "buyer@example.com", {"PrimaryEmailAddr": {"Address": "buyer@example.com"}}
    )
    created = await world.admin(f"/companies/{world.realm}/Item", [service_item("Hat", "HAT-1")])
    return customer["Id"], created["created"][0]


# --- tokens ---------------------------------------------------------------------------------


async def test_tokens_are_sealed_at_rest(world: World) -> None:
    stored = await world.vault.load(world.connection)
    assert stored is not None
    async with world.db.engine.connect() as c:
        raw = (await c.exec_driver_sql("SELECT sealed FROM quickbooks_tokens")).scalar_one()
    assert stored.tokens.refresh_token not in raw and stored.tokens.access_token not in raw


async def test_expired_access_token_is_refreshed_and_the_new_refresh_token_kept(
    world: World, books: QuickBooksBooks
) -> None:
    before = await world.vault.load(world.connection)
    assert before is not None
    await world.admin(f"/companies/{world.realm}/expire-access-tokens")
    assert await books.tax_codes()  # answered 401 first; refreshed once; then the call
    after = await world.vault.load(world.connection)
    assert after is not None and after.version == before.version + 1
    assert after.tokens.refresh_token != before.tokens.refresh_token
    # The stored refresh token is the live one; the old one is retired by Intuit.
    dead = await world.raw.post(
        "/quickbooks/oauth2/v1/tokens/bearer",
        auth=(APP.client_id, APP.client_secret),
        data={"grant_type": "refresh_token", "refresh_token": before.tokens.refresh_token},
    )
    assert dead.status_code == 400


async def test_two_processes_refreshing_at_once_refresh_once(world: World) -> None:
    stored = await world.vault.load(world.connection)
    assert stored is not None
    first, second = world.keeper(), world.keeper()  # each its own holder, as two processes
    results = await asyncio.gather(
        first.refresh(world.connection, stored), second.refresh(world.connection, stored)
    )
    # Had both refreshed, the second would have sent a retired refresh token (invalid_grant).
    assert results[0].tokens.access_token == results[1].tokens.access_token
    after = await world.vault.load(world.connection)
    assert after is not None and after.version == stored.version + 1


async def test_a_crash_after_storing_loses_nothing_and_frees_the_lease(world: World) -> None:
    class Crash(Exception):
        pass

    stored = await world.vault.load(world.connection)
    assert stored is not None

    async def crash() -> None:
        raise Crash

    with pytest.raises(Crash):
        await world.keeper(before_store=crash).refresh(world.connection, stored)
    # A crash between Intuit's answer and the store: the stored refresh token was retired, so
    # the connection must be connected again, and the error says so (docs: the one gap).
    with pytest.raises(QuickBooksAuthError, match="connect the QuickBooks company again"):
        await world.keeper().refresh(world.connection, stored)
    # After a new consent, tokens work again, and the crashed holder left no lease behind.
    await world.connect()
    fresh = await world.vault.load(world.connection)
    assert fresh is not None
    refreshed = await world.keeper().refresh(world.connection, fresh)
    assert refreshed.version == fresh.version + 1


async def test_lost_token_reply_is_transient_then_asks_to_reconnect(world: World) -> None:
    await world.fault(kind="lost_reply", path="/oauth2/v1/tokens/bearer", times=1)
    stored = await world.vault.load(world.connection)
    assert stored is not None
    with pytest.raises(QuickBooksUnavailable) as lost:
        await world.keeper().refresh(world.connection, stored)
    assert isinstance(lost.value, TransientError)
    with pytest.raises(QuickBooksAuthError) as refused:
        await world.keeper().refresh(world.connection, stored)
    assert isinstance(refused.value, PermanentError)


# --- queries and customers ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["O'Brien & Sons", "Back\\slash 'n' quote", "100% Cotton"])
async def test_names_with_quotes_and_backslashes_are_found_exactly(
    books: QuickBooksBooks, name: str
) -> None:
    made = await books.create_customer(name, f"{uuid.uuid4().hex}@example.com", {})
    found = await books.customer_by_name(name)
    assert found is not None and found["Id"] == made["Id"]
    assert await books.customer_by_name(name + "x") is None


async def test_customer_by_email(books: QuickBooksBooks) -> None:
    fields = {"PrimaryEmailAddr": {"Address": "ann@example.com"}, "GivenName": "Ann"}
    made = await books.create_customer("Ann Lee", "ann@example.com", fields)
    found = await books.customer_by_email("ann@example.com")
    assert found is not None and found["Id"] == made["Id"]
    assert await books.customer_by_email("bob@example.com") is None


async def test_display_name_clash_appends_the_match_key(
    world: World, books: QuickBooksBooks
) -> None:
    await world.admin(f"/companies/{world.realm}/Vendor", [{"DisplayName": "Ann Lee"}])
    fields = {"PrimaryEmailAddr": {"Address": "ann@example.com"}}
    made = await books.create_customer("Ann Lee", "ann@example.com", fields)
    assert made["DisplayName"] == "Ann Lee (ann@example.com)"
    other = await books.create_customer(
        "Ann Lee", "ann@example.com", fields
    )  # the same customer again: found, not a third name
    assert other["Id"] == made["Id"]
    assert len(await world.state("Customer")) == 1


async def test_sparse_update_and_stale_sync_token(world: World, books: QuickBooksBooks) -> None:
    made = await books.create_customer("Cy", "cy@example.com", {"CompanyName": "Cy Co"})
    ship = {"ShipAddr": {"Line1": "2 Street", "City": "Aarhus", "Country": "DK"}}
    updated = await books.update_customer(made["Id"], ship, reason="order-1")
    assert updated["CompanyName"] == "Cy Co" and updated["ShipAddr"]["City"] == "Aarhus"
    with pytest.raises(QuickBooksStale) as stale:
        await books.client.sparse_update("Customer", made, {"Notes": "x"}, request_id="r-stale")
    assert isinstance(stale.value, Contention)  # read again and retry
    again = await books.update_customer(made["Id"], {"Notes": "x"}, reason="order-2")
    assert again["SyncToken"] == "2"


async def test_items_by_sku_over_several_pages_of_in(world: World, books: QuickBooksBooks) -> None:
    await world.admin(
        f"/companies/{world.realm}/Item",
        [service_item(f"Item {i}", f"SKU-{i:03}") for i in range(130)],
    )
    wanted = [f"SKU-{i:03}" for i in range(0, 130, 2)] + ["MISSING"]
    found = await books.items_by_sku(wanted)
    assert sorted(found) == sorted(wanted[:-1])


# --- documents ------------------------------------------------------------------------------


async def test_invoice_exactly_once_across_a_lost_reply_and_a_later_retry(
    world: World, books: QuickBooksBooks
) -> None:
    customer, item = await customer_and_item(world, books)
    lines = [SalesLine(item, Decimal(3), Decimal("9.99"), "Hat", tax_code="2").body()]
    await world.fault(kind="lost_reply", path="/invoice", method="POST", times=1)
    invoice = await books.invoice("K-1001", customer, lines, tax_mode="TaxExcluded")
    # 29.97 net + 25 % tax on the line
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("37.46")
    assert invoice["DocNumber"] == "K-1001"
    # A process starting over (no memory of the first) finds it by DocNumber and note.
    again = await QuickBooksBooks(world.client()).invoice(
        "K-1001", customer, lines, tax_mode="TaxExcluded"
    )
    assert again["Id"] == invoice["Id"]
    assert len(await world.state("Invoice")) == 1


async def test_tax_inclusive_invoice(world: World, books: QuickBooksBooks) -> None:
    customer, item = await customer_and_item(world, books)
    lines = [SalesLine(item, Decimal(1), Decimal("125.00"), tax_code="2").body()]
    invoice = await books.invoice("K-2", customer, lines, tax_mode="TaxInclusive")
    assert Decimal(str(invoice["TotalAmt"])) == Decimal("125.00")
    assert Decimal(str(invoice["TxnTaxDetail"]["TotalTax"])) == Decimal("25.00")


async def test_payment_into_undeposited_funds_once(world: World, books: QuickBooksBooks) -> None:
    customer, item = await customer_and_item(world, books)
    lines = [SalesLine(item, Decimal(2), Decimal("10.00")).body()]
    invoice = await books.invoice("K-3", customer, lines, tax_mode="NotApplicable")
    await world.fault(kind="lost_reply", path="/payment", method="POST", times=1)
    payment = await books.pay_invoice("K-3", customer, invoice["Id"], Decimal("20.00"))
    assert payment["DepositToAccountRef"]["value"] == "4"  # Undeposited Funds
    assert (await books.pay_invoice("K-3", customer, invoice["Id"], Decimal("20")))["Id"] == (
        payment["Id"]
    )
    paid = await books.client.read("Invoice", invoice["Id"])
    assert paid is not None and Decimal(str(paid["Balance"])) == 0
    assert len(await world.state("Payment")) == 1


async def test_credit_memo_and_refund_receipt(world: World, books: QuickBooksBooks) -> None:
    customer, item = await customer_and_item(world, books)
    lines = [SalesLine(item, Decimal(1), Decimal("10.00")).body()]
    memo = await books.credit_memo("K-4-R1", customer, lines, tax_mode="NotApplicable")
    assert Decimal(str(memo["RemainingCredit"])) == Decimal("10.00")
    refund = await books.refund_receipt(
        "K-4-R2", customer, lines, tax_mode="NotApplicable", paid_from_account="5"
    )
    assert refund["DepositToAccountRef"]["value"] == "5"
    again = await books.refund_receipt(
        "K-4-R2", customer, lines, tax_mode="NotApplicable", paid_from_account="5"
    )
    assert again["Id"] == refund["Id"] and len(await world.state("RefundReceipt")) == 1


# --- faults and throttling -----------------------------------------------------------------


async def test_refused_content_is_permanent_and_quotes_quickbooks(
    world: World, books: QuickBooksBooks
) -> None:
    customer, _ = await customer_and_item(world, books)
    line = SalesLine("999", Decimal(1), Decimal(1)).body()
    with pytest.raises(QuickBooksValidationError) as refused:
        await books.invoice("K-5", customer, [line], tax_mode="NotApplicable")
    assert isinstance(refused.value, PermanentError)
    assert "ItemRef" in refused.value.reason and "2500" in refused.value.reason
    assert isinstance(refused.value, QuickBooksNotFound)


async def test_5xx_is_retried_then_transient(world: World, books: QuickBooksBooks) -> None:
    await world.fault(kind="error", path="/query", status=503, times=1)
    assert await books.tax_codes()  # one 503, retried
    await world.fault(kind="error", path="/query", status=503)
    with pytest.raises(QuickBooksUnavailable) as down:
        await books.tax_codes()
    assert isinstance(down.value, TransientError)


async def test_429_waits_and_retries(world: World) -> None:
    pacer = RealmPacer()
    books = QuickBooksBooks(world.client(pacer=pacer))
    await world.fault(kind="rate_limit", path="/query", times=1, retryAfter=0)
    assert await books.tax_codes()
    await world.fault(kind="rate_limit", path="/query")
    with pytest.raises(QuickBooksRateLimited) as limited:
        await books.tax_codes()
    assert limited.value.cause == "rate_limited"


async def test_never_more_than_10_calls_at_once(world: World) -> None:
    pacer = RealmPacer()
    # No quick retries: a 429 from the sandbox (11 at once) would fail the call.
    books = QuickBooksBooks(world.client(pacer=pacer, retry=CallRetry(attempts=1)))
    await books.tax_codes()  # tokens read once, so the 25 calls below start together
    await world.fault(kind="latency", path="/query", latencyMs=100)
    results = await asyncio.gather(*(books.tax_codes() for _ in range(25)))
    assert all(results) and 2 <= pacer.most_in_flight <= 10


async def test_revoked_tokens_ask_to_reconnect(world: World, books: QuickBooksBooks) -> None:
    sandbox_world = world.app.state.quickbooks
    sandbox_world.access.clear()
    sandbox_world.refresh.clear()
    with pytest.raises(QuickBooksAuthError, match="connect the QuickBooks company again"):
        await books.tax_codes()


def test_query_values_are_escaped() -> None:
    text = Select("Customer").where("DisplayName", "=", "a\\' OR 1=1").text()
    assert "DisplayName = 'a\\\\\\' OR 1=1'" in text
    with pytest.raises(ValueError):
        Select("Customer").where("DisplayName = 'x' OR Id", "=", "1")


async def test_pacer_keeps_to_the_minute() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = RealmPacer(per_minute=3, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        async with pacer.call():
            pass
    assert slept == [60.0]
    burst = RealmPacer(per_second=3, clock=lambda: now[0], sleep=sleep)
    slept.clear()
    for _ in range(4):
        async with burst.call():
            pass
    assert slept == [1.0]
    impatient = RealmPacer(per_minute=1, max_delay=5, clock=lambda: now[0], sleep=sleep)
    async with impatient.call():
        pass
    with pytest.raises(QuickBooksRateLimited) as held:
        async with impatient.call():
            pass
    assert held.value.retry_after == 60.0


async def test_query_pages_past_1000_rows(world: World, books: QuickBooksBooks) -> None:
    await world.admin(
        f"/companies/{world.realm}/Item",
        [service_item(f"Bulk {i}", f"B-{i:04}") for i in range(1005)],
    )
    rows = await books.client.query(Select("Item", ("Sku",)))
    assert len(rows) == 1005 and len({r["Id"] for r in rows}) == 1005
    calls = (await world.raw.get(f"/_sandbox/quickbooks/companies/{world.realm}/calls")).json()
    assert calls["calls"]["GET /query"] == 2  # STARTPOSITION 1, then 1001


async def test_update_reads_again_when_someone_else_changed_the_customer(
    world: World, books: QuickBooksBooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = await books.create_customer("Dee", "dee@example.com", {})
    # Another writer changes the customer between our read and our update.
    await books.client.sparse_update("Customer", made, {"Notes": "theirs"}, request_id="other")
    real_read = books.client.read
    reads: list[str] = []

    async def read_stale_first(entity: str, ident: str) -> dict[str, Any] | None:
        reads.append(ident)
        return made if len(reads) == 1 else await real_read(entity, ident)

    monkeypatch.setattr(books.client, "read", read_stale_first)
    updated = await books.update_customer(made["Id"], {"CompanyName": "Dee Co"}, reason="o-9")
    assert len(reads) == 2 and updated["SyncToken"] == "2"
    assert updated["Notes"] == "theirs" and updated["CompanyName"] == "Dee Co"
