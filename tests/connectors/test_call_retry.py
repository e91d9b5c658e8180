"""Quick retries inside one call: the real clients against the real sandbox apps (ASGI, and a
real socket for timeouts), with the sandbox's fault injection."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import uvicorn
from economic_support import APP_SECRET, BASE_URL, RecordingTransport

from lb_connectors.call_retry import CallRetry
from lb_connectors.economic import (
    CustomerCreate,
    CustomerGroupRef,
    CustomerRef,
    DraftInvoiceCreate,
    EconomicClient,
    EconomicUnavailable,
    InvoiceLine,
    LayoutRef,
    PaymentTermsRef,
    ProductRef,
    Recipient,
    References,
    VatZoneRef,
)
from lb_connectors.shopify_admin import ShopifyGraphQLClient, ShopifyRateLimited
from lb_sandbox.app import create_app
from lb_sandbox.settings import SandboxSettings


@pytest.fixture
def settings() -> SandboxSettings:
    # Most tests here show the quick retry of a keyed POST, on a ledger that replays it: both
    # sides say so (the sandbox's idempotent_post, the client's post_replay). The default, a
    # ledger that may not, is shown by test_a_keyed_post_is_not_repeated_unless_replay_is_known.
    return SandboxSettings(rate_limit_tokens=1_000_000, idempotent_post=True)


@pytest.fixture
async def client(transport: RecordingTransport, grant_token: str) -> AsyncIterator[EconomicClient]:
    retry = CallRetry(backoff=0.01)
    async with EconomicClient(
        BASE_URL, APP_SECRET, grant_token, transport=transport, retry=retry, post_replay=True
    ) as c:
        yield c


def _customer(name: str = "Jane") -> CustomerCreate:
    return CustomerCreate(
        name=name,
        currency="DKK",
        customer_group=CustomerGroupRef(customer_group_number=1),
        payment_terms=PaymentTermsRef(payment_terms_number=1),
        vat_zone=VatZoneRef(vat_zone_number=1),
    )


def _draft(customer: int, reference: str) -> DraftInvoiceCreate:
    return DraftInvoiceCreate(
        date=dt.date(2026, 5, 3),
        currency="DKK",
        customer=CustomerRef(customer_number=customer),
        layout=LayoutRef(layout_number=21),
        payment_terms=PaymentTermsRef(payment_terms_number=1),
        recipient=Recipient(name="Jane", vat_zone=VatZoneRef(vat_zone_number=1)),
        references=References(other=reference),
        lines=[
            InvoiceLine(
                product=ProductRef(product_number="MUG-BLACK"),
                quantity=Decimal("1"),
                unit_net_price=Decimal("60.00"),
            )
        ],
    )


async def _add_fault(sandbox: Any, **spec: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox.test"
    ) as admin:
        response = await admin.post("/_sandbox/faults", json=spec)
        assert response.status_code == 201, response.text


def _sent(transport: RecordingTransport, method: str, path_suffix: str) -> int:
    return sum(
        1 for r in transport.requests if r.method == method and r.url.path.endswith(path_suffix)
    )


async def test_one_503_on_a_read_is_tried_again_in_the_call(
    client: EconomicClient, sandbox: Any, grant_token: str, transport: RecordingTransport
) -> None:
    customer = await client.create_customer(_customer())
    path = f"/customers/{customer.customer_number}"
    await _add_fault(sandbox, kind="error", status=503, path=path, times=1, agreement=grant_token)
    found = await client.get_customer(customer.customer_number)
    assert found is not None and found.name == "Jane"
    assert _sent(transport, "GET", path) == 2


async def test_a_lasting_outage_gives_up_after_the_configured_tries(
    client: EconomicClient, sandbox: Any, grant_token: str, transport: RecordingTransport
) -> None:
    await _add_fault(sandbox, kind="error", status=502, path="/layouts", agreement=grant_token)
    with pytest.raises(EconomicUnavailable) as caught:
        await client.list_layouts()
    assert caught.value.cause == "ledger_unavailable" and caught.value.status == 502
    assert _sent(transport, "GET", "/layouts") == 4  # CallRetry's default attempts


async def test_lost_reply_on_a_keyed_write_is_answered_from_the_cache(
    client: EconomicClient, sandbox: Any, grant_token: str, transport: RecordingTransport
) -> None:
    customer = await client.create_customer(_customer())
    await _add_fault(
        sandbox, kind="lost_reply", path="/invoices/drafts", method="POST", times=1,
        agreement=grant_token,
    )  # fmt: skip
    draft = await client.create_draft_invoice(
        _draft(customer.customer_number, "order-lost"), idempotency_key="order-lost:draft"
    )
    assert draft.draft_invoice_number == 1
    assert _sent(transport, "POST", "/invoices/drafts") == 2
    drafts = await client.find_draft_invoices(reference="order-lost")
    assert [d.draft_invoice_number for d in drafts] == [1]


async def test_a_keyed_post_is_not_repeated_unless_replay_is_known(
    grant_token: str,
) -> None:
    # The defaults: a sandbox that runs a repeated POST again (restapi's replay of a keyed POST
    # is unconfirmed), and a client that does not count on it.
    sandbox = create_app(SandboxSettings(rate_limit_tokens=1_000_000))
    transport = RecordingTransport(httpx.ASGITransport(app=sandbox))
    async with EconomicClient(
        BASE_URL, APP_SECRET, grant_token, transport=transport, retry=CallRetry(backoff=0.01)
    ) as client:
        customer = await client.create_customer(_customer())
        await _add_fault(
            sandbox, kind="lost_reply", path="/invoices/drafts", method="POST", times=1,
            agreement=grant_token,
        )  # fmt: skip
        with pytest.raises(EconomicUnavailable):
            await client.create_draft_invoice(
                _draft(customer.customer_number, "order-lost"), idempotency_key="order-lost:draft"
            )
        # Sent once: the caller's lookup by reference finds the draft the lost reply hid.
        assert _sent(transport, "POST", "/invoices/drafts") == 1
        drafts = await client.find_draft_invoices(reference="order-lost")
        assert [d.draft_invoice_number for d in drafts] == [1]
        # Sent again by hand, the same key makes a second draft: the sandbox does not replay.
        await client.create_draft_invoice(
            _draft(customer.customer_number, "order-lost"), idempotency_key="order-lost:draft"
        )
        assert len(await client.find_draft_invoices(reference="order-lost")) == 2


async def test_only_a_keyed_write_is_sent_again_after_a_5xx(
    client: EconomicClient, sandbox: Any, grant_token: str, transport: RecordingTransport
) -> None:
    customer = await client.create_customer(_customer())
    fault = {"kind": "error", "status": 500, "path": "/invoices/drafts", "method": "POST"}
    await _add_fault(sandbox, **fault, times=1, agreement=grant_token)
    with pytest.raises(EconomicUnavailable):
        await client.create_draft_invoice(_draft(customer.customer_number, "order-nokey"))
    assert _sent(transport, "POST", "/invoices/drafts") == 1  # a 500 may hide a done write

    await _add_fault(sandbox, **fault, times=1, agreement=grant_token)
    await client.create_draft_invoice(
        _draft(customer.customer_number, "order-key"), idempotency_key="order-key:draft"
    )
    assert _sent(transport, "POST", "/invoices/drafts") == 3
    assert len(await client.find_draft_invoices(reference="order-key")) == 1


async def test_a_429_within_the_budget_waits_retry_after_then_succeeds(
    sandbox: Any, grant_token: str
) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    await _add_fault(sandbox, kind="rate_limit", retryAfter=2, times=1, agreement=grant_token)
    async with EconomicClient(
        BASE_URL,
        APP_SECRET,
        grant_token,
        transport=httpx.ASGITransport(app=sandbox),
        sleep=fake_sleep,
    ) as client:
        assert await client.list_layouts()
    assert slept and slept[0] == 2  # Retry-After, not the shorter backoff


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Any]]:
    """The sandbox on a real socket, where a slow answer becomes a client timeout."""
    port = _free_port()
    app = create_app(SandboxSettings(port=port, idempotent_post=True))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}/economic", app
    finally:
        server.should_exit = True
        await serving


async def test_a_timeout_after_sending_repeats_only_a_keyed_write(
    served: tuple[str, Any],
) -> None:
    base, app = served
    grant = f"grant-{uuid.uuid4().hex}"
    # The write runs, but its answer comes after the client stopped waiting.
    slow = {"kind": "latency", "latencyMs": 600, "path": "/customers", "method": "POST"}
    retry = CallRetry(backoff=0.01)
    async with EconomicClient(
        base, APP_SECRET, grant, timeout=0.3, retry=retry, post_replay=True
    ) as client:
        await _add_fault(app, **slow, times=1, agreement=grant)
        with pytest.raises(EconomicUnavailable) as caught:
            await client.create_customer(_customer("No key"))
        assert "ReadTimeout" in caught.value.reason
        await asyncio.sleep(0.5)  # the write finishes on the server
        await _add_fault(app, **slow, times=1, agreement=grant)
        # The repeat meets the running first try's Idempotency-Key and gets its answer.
        created = await client.create_customer(_customer("Keyed"), idempotency_key="c-1")
        assert created.name == "Keyed"
        names = sorted([c.name async for c in client.iter_customers()])
    assert names == ["Keyed", "No key"]  # one each: nothing was written twice


async def test_shopify_throttling_beyond_the_limit_goes_up_as_rate_limited() -> None:
    app = create_app(SandboxSettings(shopify_plan="plus"))
    token = f"shop-{uuid.uuid4().hex}"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as sandbox:
        response = await sandbox.post(
            f"/_sandbox/shopify/{token}/faults", json={"kind": "throttled", "times": 2}
        )
        assert response.status_code == 200
    async with ShopifyGraphQLClient(
        "http://sandbox/shopify", token, transport=transport, plan="plus", max_throttled=1
    ) as shop:
        with pytest.raises(ShopifyRateLimited) as caught:
            await shop.list_locations()
        assert caught.value.cause == "rate_limited"
        assert shop.stats.calls == 2 and shop.stats.throttled == 2
