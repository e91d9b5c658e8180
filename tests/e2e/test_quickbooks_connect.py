"""Connecting a QuickBooks company to a connection, Intuit's OAuth 2.0 authorization code flow
against the sandbox's QuickBooks: ingest answers a consent URL, the sandbox's consent page
redirects back with `code`, `state` and `realmId`, ingest exchanges the code, seals the tokens
into the shared token vault and the connection's ledger becomes that company in every service.
A wrong, replayed or expired state, a declined consent and a refused code change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel import select

from lb_common.connection_copies import ConnectionCopy
from lb_common.db import Database, utcnow
from lb_common.sealing import SecretBox
from lb_connectors.ledger.registry import AdapterContext, ledger_kind
from lb_connectors.quickbooks.token_vault import TokenVault
from lb_ingest.store import LedgerConsent
from tests.e2e.test_connections import spying
from tests.support.quickbooks_sandbox import SANDBOX_QBO
from tests.support.system import System, running_system

PUBLIC = "https://bridge.example.com"


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path, tokens_url) -> AsyncIterator[System]:
    async with running_system(
        amqp_url,
        broker_prefix,
        tmp_path,
        "ingest",
        "customers",  # a service that books: it must get the new ledger by connection.changed
        ingest_overrides={"public_url": PUBLIC},
    ) as running:
        put = await running.apps["ingest"].put(
            "/connections/west",
            json={
                "platform": "shopify",
                "secrets": ["west-secret"],
                "settings": {"shop_domain": "west-shop.myshopify.com"},
            },
        )
        assert put.status_code == 200, put.text
        yield running


def _browser(system: System) -> httpx.AsyncClient:
    """ingest as a browser reaches it: no admin token."""
    app = system.runtimes["ingest"].parts.app_factory()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC)


async def _consent_url(system: System) -> str:
    started = await system.apps["ingest"].post(
        "/connections/west/quickbooks/connect", json={"base_url": SANDBOX_QBO}
    )
    assert started.status_code == 200, started.text
    return str(started.json()["consent_url"])


async def _consent_at_intuit(system: System, consent_url: str) -> str:
    """What the bookkeeper does on Intuit's page: sign in, pick the company, connect. Returns
    where Intuit sends the browser."""
    parts = urlsplit(consent_url)
    async with system.sandbox() as sandbox:
        page = await sandbox.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 302, page.text
    return page.headers["location"]


async def _ledger_of_west(system: System) -> object:
    shown = await system.apps["ingest"].get("/connections/west")
    assert shown.status_code == 200, shown.text
    return shown.json()["ledger"]


async def _customers_copy(system: System, box: SecretBox, timeout: float = 30) -> dict:
    """The customers service's copy of `west` once it names a QuickBooks ledger."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with system.runtimes["customers"].parts.db.session() as session:
            copy = (
                await session.exec(select(ConnectionCopy).where(ConnectionCopy.name == "west"))
            ).first()
        if copy is not None and copy.ledger_kind == "quickbooks" and copy.sealed:
            return dict(box.open(copy.sealed)["ledger"])
        assert loop.time() < deadline, "customers never heard of west's QuickBooks ledger"
        await asyncio.sleep(0.2)


async def test_a_company_connected_through_intuits_consent_becomes_the_connections_ledger(
    system: System, tokens_url: str, amqp_url, broker_prefix
):
    url = await _consent_url(system)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{SANDBOX_QBO}/connect/oauth2?")
    assert query["client_id"] == ["sandbox-qbo-client"]
    assert query["scope"] == ["com.intuit.quickbooks.accounting"]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == [f"{PUBLIC}/grants/quickbooks"]
    state = query["state"][0]
    assert len(state) >= 32
    shown = (await system.apps["ingest"].get("/connections/west")).json()
    assert shown["onboarding"]["quickbooks_consent"]["pending_until"] is not None
    assert state not in str(shown)

    back = await _consent_at_intuit(system, url)
    callback = parse_qs(urlsplit(back).query)
    assert back.startswith(f"{PUBLIC}/grants/quickbooks?")
    assert callback["state"] == [state]
    code, realm = callback["code"][0], callback["realmId"][0]

    async with spying(amqp_url, broker_prefix) as spy, _browser(system) as browser:
        landed = await browser.get(back)
        assert landed.status_code == 200, landed.text
        assert "The QuickBooks company is connected" in landed.text
        assert f"company {realm}" in landed.text
        again = await browser.get(back)  # the state is used up
        assert again.status_code == 403, again.text
        assert "state is unknown" in again.text and "new consent URL" in again.text
        box = SecretBox.from_settings(system.common)
        copy = await _customers_copy(system, box)
    assert copy == {
        "kind": "quickbooks",
        "credentials": {"realm_id": realm, "token_key": f"west/{realm}", "base_url": SANDBOX_QBO},
    }

    shown = (await system.apps["ingest"].get("/connections/west")).json()
    assert shown["ledger"] == {
        "kind": "quickbooks",
        "credentials_configured": ["base_url", "realm_id", "token_key"],
    }
    consent = shown["onboarding"]["quickbooks_consent"]
    assert consent["realm_id"] == realm and consent["connected_at"] is not None
    assert consent["pending_until"] is None

    # The tokens are in the shared vault, sealed, and they reach the company.
    db = Database(tokens_url)
    try:
        stored = await TokenVault(db, box).load(f"west/{realm}")
        async with db.engine.connect() as c:
            sealed = (await c.exec_driver_sql("SELECT sealed FROM quickbooks_tokens")).scalar()
    finally:
        await db.dispose()
    assert stored is not None and stored.tokens.realm_id == realm
    secrets = (stored.tokens.access_token, stored.tokens.refresh_token, code)
    assert not any(s in str(sealed) for s in secrets)
    kind = ledger_kind("quickbooks")
    ledger = kind.open(
        kind.credentials.model_validate(copy["credentials"]),
        AdapterContext(settings=system.common, transport=system.ledger_transport),
    )
    try:
        catalogue = await ledger.read_catalogue()  # an authorised query on the company
    finally:
        await ledger.aclose()
    assert isinstance(catalogue, list)

    # No token, code or state in a log line, a message or an answer (but the test browser's
    # own request lines, whose address Intuit gave it).
    lines = [t for t in spy.lines if f"{PUBLIC}/grants/quickbooks?" not in t]
    assert any("QuickBooks company connected" in line for line in lines)
    answers = [landed.text, again.text, str(shown)]
    for secret in (*secrets, state):
        for where, texts in (
            ("log line", lines),
            ("message", spy.messages),
            ("answer", answers),
        ):
            assert not [t for t in texts if secret in t], f"a secret in a {where}"


async def test_a_wrong_expired_or_refused_consent_leaves_the_connection_as_it_was(
    system: System,
):
    before = await _ledger_of_west(system)
    assert before == "environment"
    async with _browser(system) as browser:
        forged = await browser.get(
            "/grants/quickbooks", params={"state": "not-ours", "code": "c", "realmId": "1"}
        )
        assert forged.status_code == 403 and "state is unknown" in forged.text

        # A consent URL used too late.
        back = await _consent_at_intuit(system, await _consent_url(system))
        async with system.runtimes["ingest"].parts.db.transaction() as session:
            row = await session.get(LedgerConsent, ("west", "quickbooks"))
            assert row is not None
            row.expires_at = utcnow() - timedelta(seconds=1)
            session.add(row)
        late = await browser.get(back)
        assert late.status_code == 403, late.text
        assert "consent URL of connection &#x27;west&#x27; has expired" in late.text

        # Intuit refuses the code (a forged or spent one): the token endpoint's error is named.
        back = await _consent_at_intuit(system, await _consent_url(system))
        callback = parse_qs(urlsplit(back).query)
        refused = await browser.get(
            "/grants/quickbooks",
            params={"state": callback["state"][0], "code": "spent", "realmId": "1"},
        )
        assert refused.status_code == 502, refused.text
        assert "token endpoint refused" in refused.text and "invalid_grant" in refused.text
        assert "/grants/quickbooks is registered" in refused.text

        # No realm id on the redirect.
        back = await _consent_at_intuit(system, await _consent_url(system))
        callback = parse_qs(urlsplit(back).query)
        bare = await browser.get(
            "/grants/quickbooks",
            params={"state": callback["state"][0], "code": callback["code"][0]},
        )
        assert bare.status_code == 400 and "no realmId" in bare.text

        # A realm id that is no company id (it would name the tokens' vault row).
        back = await _consent_at_intuit(system, await _consent_url(system))
        callback = parse_qs(urlsplit(back).query)
        odd = await browser.get(
            "/grants/quickbooks",
            params={"state": callback["state"][0], "code": callback["code"][0], "realmId": "1/x"},
        )
        assert odd.status_code == 400 and "is not a QuickBooks company id" in odd.text
    assert await _ledger_of_west(system) == before
    consent = (await system.apps["ingest"].get("/connections/west")).json()["onboarding"][
        "quickbooks_consent"
    ]
    assert consent["connected_at"] is None


async def test_a_declined_consent_says_so_and_uses_up_the_state(system: System):
    url = await _consent_url(system)
    state = parse_qs(urlsplit(url).query)["state"][0]
    async with _browser(system) as browser:
        # What Intuit sends when the bookkeeper does not connect.
        declined = await browser.get(
            "/grants/quickbooks", params={"error": "access_denied", "state": state}
        )
        assert declined.status_code == 403, declined.text
        assert "declined at Intuit (access_denied)" in declined.text
        assert "connection &#x27;west&#x27;" in declined.text
        late = await browser.get(
            "/grants/quickbooks", params={"state": state, "code": "c", "realmId": "1"}
        )
        assert late.status_code == 403 and "state is unknown" in late.text
    assert await _ledger_of_west(system) == "environment"


async def test_connecting_an_unknown_connection_is_refused_by_name(system: System):
    missing = await system.apps["ingest"].post("/connections/nobody/quickbooks/connect")
    assert missing.status_code == 404 and "no connection named 'nobody'" in missing.text


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({}, "LEDGERBRIDGE_INGEST_PUBLIC_URL is not set"),
        ({"public_url": PUBLIC}, "LEDGERBRIDGE_QUICKBOOKS_TOKEN_DATABASE_URL is not set"),
    ],
)
async def test_a_consent_url_needs_the_public_url_and_the_token_database(
    amqp_url, broker_prefix, tmp_path, monkeypatch, overrides, missing
):
    monkeypatch.delenv("LEDGERBRIDGE_QUICKBOOKS_TOKEN_DATABASE_URL", raising=False)
    async with running_system(
        amqp_url, broker_prefix, tmp_path, "ingest", ingest_overrides=overrides
    ) as running:
        put = await running.apps["ingest"].put(
            "/connections/west", json={"platform": "shopify", "secrets": ["west-secret"]}
        )
        assert put.status_code == 200, put.text
        refused = await running.apps["ingest"].post("/connections/west/quickbooks/connect")
    assert refused.status_code == 409 and missing in refused.text


async def test_a_connected_companys_pick_lists_come_through_the_ledger_port(system: System):
    """After the consent (started at the generic route), the console's pick lists read the
    company through the ledger port: tax codes, clearing accounts and items by SKU, on the
    neutral route and on the one the console reads."""
    ingest = system.apps["ingest"]
    started = await ingest.post(
        "/connections/west/ledger/quickbooks/connect", json={"base_url": SANDBOX_QBO}
    )
    assert started.status_code == 200, started.text
    assert started.json()["redirect_uri"] == f"{PUBLIC}/grants/quickbooks"
    back = await _consent_at_intuit(system, started.json()["consent_url"])
    realm = parse_qs(urlsplit(back).query)["realmId"][0]
    async with _browser(system) as browser:
        assert (await browser.get(back)).status_code == 200
    async with system.sandbox() as sandbox:
        seeded = await sandbox.post(
            f"/_sandbox/quickbooks/companies/{realm}/Item",
            json=[
                {
                    "Name": "Shipping",
                    "Sku": "SHIP",
                    "Type": "Service",
                    "IncomeAccountRef": {"value": "7"},
                },
                {
                    "Name": "Gift wrap",
                    "Sku": "WRAP",
                    "Type": "Service",
                    "IncomeAccountRef": {"value": "7"},
                },
                {
                    "Name": "Old hat",
                    "Sku": "OLD",
                    "Type": "Service",
                    "IncomeAccountRef": {"value": "7"},
                    "Active": False,
                },
            ],
        )
        assert seeded.status_code == 201, seeded.text

    neutral = await ingest.get("/connections/west/ledger/reference", params={"items": "true"})
    assert neutral.status_code == 200, neutral.text
    data = neutral.json()
    assert data["kind"] == "quickbooks"
    assert [(c["id"], c["name"]) for c in data["tax_zones"]] == [("2", "25.0% S"), ("3", "0.0% Z")]
    assert [c["id"] for c in data["clearing_accounts"]] == ["undeposited_funds", "5"]
    assert {(c["id"], c["name"], c["facts"]["type"]) for c in data["items"]} == {
        ("SHIP", "Shipping", "Service"),
        ("WRAP", "Gift wrap", "Service"),
    }
    assert data["more_items"] is False
    assert data["customer_groups"] == data["layouts"] == []  # QuickBooks has neither

    without = (await ingest.get("/connections/west/ledger/reference")).json()
    assert without["items"] == [] and without["tax_zones"] == data["tax_zones"]

    # The path the console reads for its pick lists answers the company's lists too.
    console = await ingest.get("/connections/west/economic/reference", params={"products": "true"})
    assert console.status_code == 200, console.text
    lists = console.json()
    assert lists["vat_zones"] == [{"number": 2, "name": "25.0% S"}, {"number": 3, "name": "0.0% Z"}]
    assert {p["number"] for p in lists["products"]} == {"SHIP", "WRAP"}
    assert lists["layouts"] == [] and lists["more_products"] is False
