"""Consent through the ledger registry (lb_connectors/ledger/consent.py, lb_ingest/
ledger_consent.py): ingest runs whatever consent flow a ledger kind declares, at the generic
routes `POST /connections/{name}/ledger/{kind}/connect` and `GET /grants/{kind}[/{name}]`,
with no change to ingest for a new kind; a kind without a flow is refused by name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

from lb_connectors.ledger.consent import Connected, ConsentContext, ConsentLink, ConsentRefused
from lb_connectors.ledger.registry import ADAPTERS, AdapterContext, LedgerKind
from tests.support.system import System, running_system

PUBLIC = "https://bridge.example.com"


class KeyCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    account: str
    api_key: SecretStr


def _no_adapter(credentials: BaseModel, context: AdapterContext) -> Any:
    raise AssertionError("these tests never book")


class KeyConsent:
    """A ledger whose consent page sends the person back with an API key: the whole of what
    a new kind writes for ingest to connect it."""

    thing = "Keyed account"
    link = "consent link"
    shared_redirect = False
    proposes_settings = False
    minutes = 10.0

    def __init__(self, context: ConsentContext) -> None:
        self.closed = False

    def start(
        self, *, connection: str, redirect_uri: str, state: str, options: Mapping[str, Any]
    ) -> ConsentLink:
        query = urlencode({"return": redirect_uri, "state": state})
        return ConsentLink(
            answer={"consent_url": f"https://keyed.example/allow?{query}"},
            keep={"account": str(options.get("account", "main"))},
        )

    def check_callback(self, params: Mapping[str, str]) -> None:
        if not params.get("key"):
            raise ConsentRefused(400, "the keyed ledger sent no key")

    def declined(self, params: Mapping[str, str]) -> str | None:
        return "the person said no" if params.get("denied") else None

    async def complete(
        self,
        *,
        connection: str,
        params: Mapping[str, str],
        keep: Mapping[str, str],
        redirect_uri: str,
    ) -> Connected:
        return Connected(
            credentials={"account": keep["account"], "api_key": params["key"]},
            facts={"account": keep["account"]},
            books_into=f"keyed account {keep['account']}",
        )

    async def aclose(self) -> None:
        self.closed = True


KEYED = LedgerKind(
    kind="keyed",
    label="Keyed",
    credentials=KeyCredentials,
    open=_no_adapter,
    pool_key=lambda c: ("keyed",),
    consent=KeyConsent,
)
PLAIN = LedgerKind(
    kind="plain",
    label="Plain Ledger",
    credentials=KeyCredentials,
    open=_no_adapter,
    pool_key=lambda c: ("plain",),
)


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path, monkeypatch) -> AsyncIterator[System]:
    # One registry line per kind, as a new ledger package adds.
    monkeypatch.setitem(ADAPTERS, "keyed", f"{__name__}:KEYED")
    monkeypatch.setitem(ADAPTERS, "plain", f"{__name__}:PLAIN")
    async with running_system(
        amqp_url,
        broker_prefix,
        tmp_path,
        "ingest",
        ingest_overrides={
            "public_url": PUBLIC,
            "economic_app_public_token": "test-app-public-token",
        },
    ) as running:
        put = await running.apps["ingest"].put(
            "/connections/west", json={"platform": "shopify", "secrets": ["west-secret"]}
        )
        assert put.status_code == 200, put.text
        yield running


def _browser(system: System) -> httpx.AsyncClient:
    app = system.runtimes["ingest"].parts.app_factory()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC)


async def test_a_kind_registered_with_a_consent_flow_connects_with_no_ingest_change(
    system: System,
):
    ingest = system.apps["ingest"]
    started = await ingest.post("/connections/west/ledger/keyed/connect", json={"account": "a7"})
    assert started.status_code == 200, started.text
    link = parse_qs(urlsplit(started.json()["consent_url"]).query)
    assert link["return"] == [f"{PUBLIC}/grants/keyed/west"]
    state = link["state"][0]
    pending = (await ingest.get("/connections/west")).json()["onboarding"]["ledger_consents"]
    assert pending["keyed"]["pending_until"] is not None and state not in str(pending)

    async with _browser(system) as browser:
        no_key = await browser.get("/grants/keyed/west", params={"state": state})
        assert no_key.status_code == 400 and "sent no key" in no_key.text
        elsewhere = await browser.get("/grants/keyed/east", params={"state": state, "key": "k"})
        assert elsewhere.status_code == 403 and "new consent link" in elsewhere.text
        landed = await browser.get("/grants/keyed/west", params={"state": state, "key": "k-1"})
        assert landed.status_code == 200, landed.text
        assert "The Keyed account is connected" in landed.text
        assert "now books into keyed account a7" in landed.text
        replayed = await browser.get("/grants/keyed/west", params={"state": state, "key": "k-2"})
        assert replayed.status_code == 403 and "state is unknown" in replayed.text

    shown = (await ingest.get("/connections/west")).json()
    assert shown["ledger"] == {"kind": "keyed", "credentials_configured": ["account", "api_key"]}
    consent = shown["onboarding"]["ledger_consents"]["keyed"]
    assert consent["account"] == "a7" and consent["connected_at"] is not None
    assert consent["pending_until"] is None
    assert "k-1" not in str(shown)


async def test_a_declined_consent_uses_up_the_state_and_keeps_the_ledger(system: System):
    started = await system.apps["ingest"].post("/connections/west/ledger/keyed/connect")
    state = parse_qs(urlsplit(started.json()["consent_url"]).query)["state"][0]
    async with _browser(system) as browser:
        declined = await browser.get("/grants/keyed/west", params={"state": state, "denied": "1"})
        assert declined.status_code == 403
        assert "No Keyed account was connected for connection &#x27;west&#x27;" in declined.text
        assert "the person said no" in declined.text
        late = await browser.get("/grants/keyed/west", params={"state": state, "key": "k"})
        assert late.status_code == 403
    assert (await system.apps["ingest"].get("/connections/west")).json()["ledger"] == (
        "environment"
    )


async def test_a_kind_without_a_consent_flow_or_unknown_is_refused_by_name(system: System):
    ingest = system.apps["ingest"]
    plain = await ingest.post("/connections/west/ledger/plain/connect")
    assert plain.status_code == 404
    assert "'plain' (Plain Ledger) has no consent flow" in plain.json()["detail"]
    unknown = await ingest.post("/connections/west/ledger/fortnox/connect")
    assert unknown.status_code == 404 and "'fortnox'" in unknown.json()["detail"]
    async with _browser(system) as browser:
        back = await browser.get("/grants/plain/west", params={"state": "s", "key": "k"})
        assert back.status_code == 404 and "has no consent flow" in back.text
        # Each kind comes back to its own shape of address only.
        shared = await browser.get("/grants/economic", params={"state": "s", "token": "t"})
        assert shared.status_code == 404 and "do not come back to this address" in shared.text
        named = await browser.get("/grants/quickbooks/west", params={"state": "s", "code": "c"})
        assert named.status_code == 404


async def test_e_conomics_installation_starts_at_the_generic_route_too(system: System):
    started = await system.apps["ingest"].post(
        "/connections/west/ledger/economic/connect", json={"locale": "da-DK"}
    )
    assert started.status_code == 200, started.text
    query = parse_qs(urlsplit(started.json()["installation_url"]).query)
    assert query["locale"] == ["da-DK"]
    assert query["redirectUrl"][0].startswith(f"{PUBLIC}/grants/economic/west?state=")
    wrong = await system.apps["ingest"].post(
        "/connections/west/ledger/economic/connect", json={"locale": "xx-XX"}
    )
    assert wrong.status_code == 422 and "'xx-XX'" in wrong.json()["detail"]
