"""Onboarding as the platforms do it (issue #12): e-conomic's grant flow brings the agreement
grant token back to ingest, which proposes settings from the agreement's own reference data;
a Shopify connection gets the webhook subscriptions it needs, and a missing or wrong one is
re-created."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.platforms.factories import shopify_headers, shopify_json, shopify_order
from tests.support.system import System, running_system

PUBLIC = "https://bridge.example.com"
APP_PUBLIC = "test-app-public-token"
WEST = "west-shop.myshopify.com"
TOPICS = {"ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_PAID", "ORDERS_CANCELLED", "REFUNDS_CREATE"}
MUG = [{"sku": "MUG-BLACK", "title": "Mug", "price": "60.00"}]


@pytest.fixture
async def system(amqp_url, broker_prefix, tmp_path) -> AsyncIterator[System]:
    async with running_system(
        amqp_url,
        broker_prefix,
        tmp_path,
        "ingest",
        "customers",
        "invoicing",
        "inventory",  # the console's connection page asks every service
        ingest_overrides={
            "public_url": PUBLIC,
            "economic_app_public_token": APP_PUBLIC,
            "economic_installation_url": "http://sandbox/secure/api1/requestaccess.aspx",
        },
    ) as running:
        async with running.sandbox() as sandbox:
            answer = await sandbox.post(
                "/_sandbox/economic/apps",
                json={"public_token": APP_PUBLIC, "secret_token": "test-app"},
            )
            assert answer.status_code == 201, answer.text
        yield running


def _open_ingest(system: System) -> httpx.AsyncClient:
    """ingest as a browser reaches it: no admin token."""
    app = system.runtimes["ingest"].parts.app_factory()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC)


async def _add_app(system: System, installation_url: str, agreement: str = "") -> str:
    """What the agreement's user does on e-conomic's page: open it, press "Add app". Returns
    where e-conomic sends the browser."""
    parts = urlsplit(installation_url)
    async with system.sandbox() as sandbox:
        page = await sandbox.get(f"{parts.path}?{parts.query}")
        assert page.status_code == 200 and "Add app" in page.text, page.text
        query = parse_qs(parts.query)
        added = await sandbox.post(
            parts.path,
            data={
                "appPublicToken": query["appPublicToken"][0],
                "redirectUrl": query["redirectUrl"][0],
                "agreement": agreement,
            },
        )
    assert added.status_code == 302, added.text
    return added.headers["location"]


async def _put_west(system: System, **extra: Any) -> httpx.Response:
    return await system.apps["ingest"].put(
        "/connections/west",
        json={
            "platform": "shopify",
            "secrets": ["west-secret"],
            "settings": {"shop_domain": WEST},
            **extra,
        },
    )


async def test_an_agreement_granted_through_e_conomic_books_the_connections_orders(
    system: System,
):
    ingest = system.apps["ingest"]
    assert (await _put_west(system)).status_code == 200

    started = await ingest.post(
        "/connections/west/economic/grant", json={"base_url": "http://sandbox/economic"}
    )
    assert started.status_code == 200, started.text
    url = started.json()["installation_url"]
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("http://sandbox/secure/api1/requestaccess.aspx?")
    assert query["appPublicToken"] == [APP_PUBLIC]
    assert query["redirectUrl"][0].startswith(f"{PUBLIC}/grants/economic/west?state=")

    back = await _add_app(system, url)
    grant = parse_qs(urlsplit(back).query)["token"][0]
    async with _open_ingest(system) as browser:
        landed = await browser.get(back)
        assert landed.status_code == 200, landed.text
        assert "is connected" in landed.text
        again = await browser.get(back)  # the state is used up
        assert again.status_code == 403 and "new installation URL" in again.text

    shown = await ingest.get("/connections/west")
    assert shown.status_code == 200, shown.text
    assert grant not in shown.text
    view = shown.json()
    assert view["ledger"]["kind"] == "economic"
    onboarding = view["onboarding"]
    assert onboarding["economic_grant"]["granted_at"] is not None
    assert onboarding["proposal_error"] is None
    # The sandbox agreement's seed: group 1 "Webshop customers", terms 1 net 8 days, zones
    # Domestic 1 / EU 2 / Abroad 3 (4 is "Domestic exempt VAT"), layout 21 "Standard".
    assert onboarding["proposal"]["settings"] == {
        "customers": {
            "defaults": {"customer_group": 1, "payment_terms": 1},
            "vat_zones": {"domestic": 1, "eu_business": 2, "eu_private": 1, "abroad": 3},
        },
        "invoicing": {"layout": 21},
    }
    assert all(c["why"] for c in onboarding["proposal"]["choices"])
    assert onboarding["proposal_confirmed_at"] is None

    # The operator applies the proposal to the services' settings and confirms it.
    for service, partial in onboarding["proposal"]["settings"].items():
        current = (await system.apps[service].get("/connections/west/settings")).json()
        put = await system.apps[service].put(
            "/connections/west/settings", json={**current, **partial}
        )
        assert put.status_code == 200, put.text
    confirmed = await ingest.post("/connections/west/economic/proposal/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert (await ingest.get("/connections/west")).json()["onboarding"][
        "proposal_confirmed_at"
    ] is not None

    # The connection's orders now land in the granted agreement.
    raw = shopify_json(shopify_order(id=990001, lines=MUG))
    posted = await ingest.post(
        "/webhooks/shopify/west",
        content=raw,
        headers=shopify_headers("orders/paid", raw, "west-secret", shop=WEST),
    )
    assert posted.status_code == 200, posted.text
    key = posted.json()["order_key"]
    order = await system.wait_for_status(key, "booked", "failed", timeout=60)
    assert order["status"] == "booked", order["status_reason"]
    async with system.sandbox() as sandbox:
        state = (await sandbox.get(f"/_sandbox/agreements/{grant}/state")).json()
    assert [i["references"]["other"] for i in state["booked_invoices"]] == [key]
    assert [i["layout"]["layoutNumber"] for i in state["booked_invoices"]] == [21]

    # Its work is counted under its own connection label.
    metrics = (await system.apps["invoicing"].get("/metrics")).text
    assert (
        'ledgerbridge_economic_calls_total{connection="west",endpoint="/invoices/drafts"' in metrics
    )
    assert 'connection="west",outcome="ok",service="invoicing",type="customer.resolved"' in metrics
    assert (
        'ledgerbridge_webhooks_total{connection="west",platform="shopify",status="200"}' in metrics
    )


async def test_a_grant_that_does_not_match_the_installation_url_is_refused(system: System):
    ingest = system.apps["ingest"]
    assert (await _put_west(system)).status_code == 200
    first = (await ingest.post("/connections/west/economic/grant")).json()["installation_url"]
    second = (await ingest.post("/connections/west/economic/grant")).json()["installation_url"]
    stale = await _add_app(system, first)  # the older URL, replaced by the second
    async with _open_ingest(system) as browser:
        refused = await browser.get(stale)
        assert refused.status_code == 403, refused.text
        declined = await browser.get(urlsplit(stale).path + "?state=x")
        assert declined.status_code == 400 and "no agreement grant token" in declined.text
    view = (await ingest.get("/connections/west")).json()
    assert view["ledger"] == "environment"
    assert view["onboarding"]["economic_grant"]["pending_until"] is not None
    assert second != first


async def test_the_grant_flow_needs_the_public_address_and_app_token(
    amqp_url, broker_prefix, tmp_path
):
    async with running_system(amqp_url, broker_prefix, tmp_path, "ingest") as system:
        assert (await _put_west(system)).status_code == 200
        refused = await system.apps["ingest"].post("/connections/west/economic/grant")
    assert refused.status_code == 409
    assert "LEDGERBRIDGE_INGEST_PUBLIC_URL" in refused.json()["detail"]


async def test_a_granted_token_works_only_with_its_own_app(system: System):
    async with system.sandbox() as sandbox:
        added = await sandbox.post(
            "/secure/api1/requestaccess.aspx", data={"appPublicToken": APP_PUBLIC}
        )
        assert added.status_code == 200 and "Agreement grant token" in added.text
        token = added.text.split("<code>")[1].split("</code>")[0]
        own = await sandbox.get(
            "/economic/layouts",
            headers={"X-AppSecretToken": "test-app", "X-AgreementGrantToken": token},
        )
        other = await sandbox.get(
            "/economic/layouts",
            headers={"X-AppSecretToken": "another-app", "X-AgreementGrantToken": token},
        )
        unknown = await sandbox.get("/secure/api1/requestaccess.aspx?appPublicToken=nope")
    assert own.status_code == 200
    assert other.status_code == 401
    assert unknown.status_code == 404


# --- Shopify webhook subscriptions ----------------------------------------------------------


async def _shop(system: System, token: str, query: str, variables: dict[str, Any]) -> Any:
    async with system.sandbox() as sandbox:
        answer = await sandbox.post(
            "/shopify/admin/api/2026-10/graphql.json",
            headers={"X-Shopify-Access-Token": token},
            json={"query": query, "variables": variables},
        )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


CREATE = """mutation($topic: WebhookSubscriptionTopic!, $uri: String!, $format: WebhookSubscriptionFormat) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: $format}) {
    webhookSubscription { id } userErrors { message } } }"""
DELETE = """mutation($id: ID!) { webhookSubscriptionDelete(id: $id) {
  deletedWebhookSubscriptionId userErrors { message } } }"""


async def _subscriptions(system: System, token: str) -> list[dict[str, Any]]:
    async with system.sandbox() as sandbox:
        state = (await sandbox.get(f"/_sandbox/shopify/{token}/state")).json()
    return list(state["webhook_subscriptions"])


async def test_a_shopify_connection_gets_its_webhook_subscriptions_and_they_are_repaired(
    system: System,
):
    ingest = system.apps["ingest"]
    token = f"shop-west-{uuid.uuid4().hex}"
    uri = f"{PUBLIC}/webhooks/shopify/west"
    # Left from before the deployment moved: orders/paid goes to the old address, in XML.
    old = await _shop(
        system,
        token,
        CREATE,
        {"topic": "ORDERS_PAID", "uri": "https://old.example.com/hooks", "format": "XML"},
    )
    assert old["webhookSubscriptionCreate"]["userErrors"] == []

    saved = await _put_west(
        system, shop={"admin_url": "http://sandbox/shopify", "admin_token": token}
    )
    assert saved.status_code == 200, saved.text
    assert token not in saved.text

    held = await _subscriptions(system, token)
    assert {s["topic"] for s in held} == TOPICS and len(held) == len(TOPICS)
    assert {(s["uri"], s["format"]) for s in held} == {(uri, "JSON")}
    shown = (await ingest.get("/connections/west")).json()["onboarding"]
    states = {s["topic"]: s["state"] for s in shown["webhook_subscriptions"]}
    assert states.pop("ORDERS_PAID") == "re-created"
    assert set(states.values()) == {"created"}
    paid = next(s for s in shown["webhook_subscriptions"] if s["topic"] == "ORDERS_PAID")
    assert "https://old.example.com/hooks (XML)" in paid["detail"]

    # Someone deletes one in the shop: the next check re-creates it and says so.
    gone = next(s for s in held if s["topic"] == "REFUNDS_CREATE")
    deleted = await _shop(system, token, DELETE, {"id": gone["id"]})
    assert deleted["webhookSubscriptionDelete"]["deletedWebhookSubscriptionId"] == gone["id"]
    checked = await ingest.post("/connections/west/webhook-subscriptions/check")
    assert checked.status_code == 200, checked.text
    states = {s["topic"]: s["state"] for s in checked.json()["subscriptions"]}
    assert states.pop("REFUNDS_CREATE") == "created"
    assert set(states.values()) == {"ok"}
    assert {s["topic"] for s in await _subscriptions(system, token)} == TOPICS


async def test_without_a_public_address_the_connection_says_why_it_has_no_subscriptions(
    amqp_url, broker_prefix, tmp_path
):
    async with running_system(amqp_url, broker_prefix, tmp_path, "ingest") as system:
        assert (await _put_west(system)).status_code == 200
        checked = await system.apps["ingest"].post("/connections/west/webhook-subscriptions/check")
        shown = (await system.apps["ingest"].get("/connections/west")).json()["onboarding"]
    assert checked.json()["subscriptions"] == []
    assert "LEDGERBRIDGE_INGEST_PUBLIC_URL" in shown["webhook_subscriptions_error"]


# --- the console's connection page ----------------------------------------------------------


def _hidden(page: str, name: str) -> str:
    return page.split(f'name="{name}" value="')[1].split('"')[0]


async def test_without_a_readable_ledger_the_settings_take_typed_numbers(system: System):
    """The agreement cannot be read (here: its address answers no e-conomic API): the page
    says why, the fields are plain inputs, and a typed number is saved as any other."""
    from lb_console.bootstrap import bootstrap as console_bootstrap
    from lb_console.settings import ConsoleSettings

    broken = {
        "kind": "economic",
        "credentials": {
            "base_url": "http://sandbox/no-ledger-here",
            "app_secret_token": "test-app",
            "agreement_grant_token": f"grant-{uuid.uuid4().hex}",
        },
    }
    assert (await _put_west(system, ledger=broken)).status_code == 200
    refused = await system.apps["ingest"].get("/connections/west/economic/reference")
    assert refused.status_code == 409 and "could not be read" in refused.json()["detail"]
    transports = {
        name: httpx.ASGITransport(app=runtime.parts.app_factory())
        for name, runtime in system.runtimes.items()
    }
    parts = console_bootstrap(
        ConsoleSettings(common=system.common, secure_cookie=False), transports=transports
    )
    await parts.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=parts.app), base_url="http://console"
        ) as browser:
            login = await browser.get("/login")
            await browser.post(
                "/login",
                data={
                    "login_token": _hidden(login.text, "login_token"),
                    "next": "/connections/west",
                    "operator": "Alice",
                    "token": "test-admin-token",
                },
            )
            page = await browser.get("/connections/west")
            assert page.status_code == 200
            assert "choices could not be read" in page.text and "type the numbers" in page.text
            assert 'class="from-ledger"' not in page.text
            assert '<input id="f-invoicing-layout" name="s.layout" value="">' in page.text
            form = {
                k: v
                for k, v in (await system.apps["invoicing"].get("/connections/west/settings"))
                .json()
                .items()
                if not isinstance(v, dict | list)
            }
            saved = await browser.post(
                "/connections/west/invoicing",
                data={
                    "csrf_token": _hidden(page.text, "csrf_token"),
                    **{
                        f"s.{k}": ""
                        if v is None
                        else str(v).lower()
                        if isinstance(v, bool)
                        else str(v)
                        for k, v in form.items()
                    },
                    "s.layout": "19",
                },
            )
            assert saved.status_code == 303, saved.text
    finally:
        await parts.stop()
    invoicing = (await system.apps["invoicing"].get("/connections/west/settings")).json()
    assert invoicing["layout"] == 19


async def test_the_console_shows_the_onboarding_and_applies_the_proposal(system: System):
    from lb_console.bootstrap import bootstrap as console_bootstrap
    from lb_console.settings import ConsoleSettings

    token = f"shop-west-{uuid.uuid4().hex}"
    assert (
        await _put_west(system, shop={"admin_url": "http://sandbox/shopify", "admin_token": token})
    ).status_code == 200
    transports = {
        name: httpx.ASGITransport(app=runtime.parts.app_factory())
        for name, runtime in system.runtimes.items()
    }
    parts = console_bootstrap(
        ConsoleSettings(common=system.common, secure_cookie=False), transports=transports
    )
    await parts.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=parts.app), base_url="http://console"
        ) as browser:
            login = await browser.get("/login")
            logged_in = await browser.post(
                "/login",
                data={
                    "login_token": _hidden(login.text, "login_token"),
                    "next": "/connections/west",
                    "operator": "Alice",
                    "token": "test-admin-token",
                },
            )
            assert logged_in.status_code == 303, logged_in.text
            page = await browser.get("/connections/west")
            assert page.status_code == 200
            assert "Shopify webhook subscriptions" in page.text
            assert "ORDERS_PAID" in page.text and "created" in page.text
            csrf = _hidden(page.text, "csrf_token")

            # Connect an agreement: the page shows e-conomic's installation URL.
            shown = await browser.post(
                "/connections/west/onboarding/grant", data={"csrf_token": csrf, "locale": "da-DK"}
            )
            assert shown.status_code == 200, shown.text
            url = shown.text.split('Open <a href="')[1].split('"')[0].replace("&amp;", "&")
            assert "locale=da-DK" in url
            back = await _add_app(system, url)
            async with _open_ingest(system) as user:
                assert (await user.get(back)).status_code == 200

            page = await browser.get("/connections/west")
            assert "Settings proposed from the agreement" in page.text
            assert "Webshop customers" in page.text
            applied = await browser.post(
                "/connections/west/onboarding/apply", data={"csrf_token": csrf}
            )
            assert applied.status_code == 303
            assert "applied" in applied.headers["location"]
            page = await browser.get("/connections/west")
            assert "Applied " in page.text and "Apply the proposed settings" not in page.text
            # The agreement's choices are pick lists now, the applied layout picked.
            assert 'class="from-ledger"' in page.text
            assert '<option value="21" selected>21 · Standard</option>' in page.text
    finally:
        await parts.stop()
    customers = (await system.apps["customers"].get("/connections/west/settings")).json()
    assert customers["vat_zones"]["abroad"] == 3 and customers["defaults"]["payment_terms"] == 1
    assert customers["match_on"] == "email"  # the rest of the settings stayed
    invoicing = (await system.apps["invoicing"].get("/connections/west/settings")).json()
    assert invoicing["layout"] == 21
