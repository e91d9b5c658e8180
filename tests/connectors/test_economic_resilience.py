"""Transient failures, Idempotency-Key replay, pacing from X-RateLimiting, metrics, vouchers."""

from __future__ import annotations

import datetime as dt
import heapq
from decimal import Decimal
from typing import Any

import httpx
import pytest
from economic_support import APP_SECRET, BASE_URL, RecordingTransport, assert_schema
from prometheus_client import REGISTRY

from lb_common.errors import PermanentError
from lb_connectors.economic import (
    AccountingYearRef,
    AccountRef,
    CurrencyCodeRef,
    CustomerCreate,
    CustomerGroupRef,
    CustomerRef,
    DraftInvoiceCreate,
    EconomicClient,
    EconomicRateLimited,
    EconomicUnavailable,
    EconomicValidationError,
    FinanceVoucher,
    InvoiceLine,
    JournalRef,
    LayoutRef,
    PaymentTermsRef,
    ProductRef,
    RateLimitPacer,
    RateLimitStatus,
    Recipient,
    References,
    VatZoneRef,
    VoucherCreate,
    VoucherEntries,
)
from lb_connectors.economic.metrics import endpoint_template
from lb_connectors.shared_budget import BAND_FRACTION, ROOM_FOR
from lb_sandbox.economic.ratelimit import TokenBucket


def _customer() -> CustomerCreate:
    return CustomerCreate(
        name="Jane",
        currency="DKK",
        customer_group=CustomerGroupRef(customer_group_number=1),
        payment_terms=PaymentTermsRef(payment_terms_number=1),
        vat_zone=VatZoneRef(vat_zone_number=1),
    )


def _draft(customer: int) -> DraftInvoiceCreate:
    return DraftInvoiceCreate(
        date=dt.date(2026, 5, 3),
        currency="DKK",
        customer=CustomerRef(customer_number=customer),
        layout=LayoutRef(layout_number=21),
        payment_terms=PaymentTermsRef(payment_terms_number=1),
        recipient=Recipient(name="Jane", vat_zone=VatZoneRef(vat_zone_number=1)),
        references=References(other="order-lost-reply"),
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


async def test_without_idempotency_key_a_lost_reply_duplicates(
    client: EconomicClient, sandbox: Any, grant_token: str
) -> None:
    # The contrast case, showing why the key matters: the client does not send a write without
    # a key again, and a caller that does gets two drafts.
    customer = await client.create_customer(_customer())
    await _add_fault(
        sandbox, kind="lost_reply", path="/invoices/drafts", method="POST", times=1,
        agreement=grant_token,
    )  # fmt: skip
    with pytest.raises(EconomicUnavailable):
        await client.create_draft_invoice(_draft(customer.customer_number))
    await client.create_draft_invoice(_draft(customer.customer_number))
    assert len(await client.find_draft_invoices(reference="order-lost-reply")) == 2


async def test_5xx_is_transient_with_a_readable_reason(
    client: EconomicClient, sandbox: Any, grant_token: str
) -> None:
    await _add_fault(sandbox, kind="error", status=503, path="/customers/*", agreement=grant_token)
    with pytest.raises(EconomicUnavailable) as caught:
        await client.get_customer(1)
    error = caught.value
    assert error.status == 503 and error.log_id
    assert "e-conomic failed while handling customer 1 (HTTP 503)" in error.reason
    assert grant_token not in error.reason + (error.detail or "")
    assert APP_SECRET not in error.reason + (error.detail or "")


async def test_long_429_carries_retry_after_and_blocks_the_pacer(
    sandbox: Any, grant_token: str
) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    pacer = RateLimitPacer(sleep=fake_sleep)
    # Longer than the client's budget for quick retries: left to the retry queues.
    await _add_fault(sandbox, kind="rate_limit", retryAfter=8, times=1, agreement=grant_token)
    async with EconomicClient(
        BASE_URL,
        APP_SECRET,
        grant_token,
        transport=httpx.ASGITransport(app=sandbox),
        pacer=pacer,
        sleep=fake_sleep,
    ) as client:
        with pytest.raises(EconomicRateLimited) as caught:
            await client.list_layouts()
        assert caught.value.retry_after == 8 and "HTTP 429" in caught.value.reason
        assert caught.value.cause == "rate_limited"
        assert slept == []  # nothing waited inside the call
        assert await client.list_layouts()
    assert slept and 7.5 < slept[0] <= 8  # the pacer held the next call


async def test_a_call_that_never_left_is_sent_again(sandbox: Any, grant_token: str) -> None:
    class FlakyTransport(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.ASGITransport(app=sandbox)
            self.failures = 1

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if self.failures:
                self.failures -= 1
                raise httpx.ConnectError("connection refused", request=request)
            return await self.inner.handle_async_request(request)

    async with EconomicClient(BASE_URL, APP_SECRET, grant_token, transport=FlakyTransport()) as c:
        assert await c.get_vat_zone(1) is not None

    class DeadTransport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    async with EconomicClient(BASE_URL, APP_SECRET, grant_token, transport=DeadTransport()) as c:
        with pytest.raises(EconomicUnavailable) as caught:
            await c.create_customer(_customer())
    assert (
        caught.value.reason
        == "could not reach e-conomic for the customer (ConnectError); retrying later"
    )


def test_rate_limit_header_parsing() -> None:
    status = RateLimitStatus.parse("token-limit-10000-per-60-seconds: 147/10000")
    assert status == RateLimitStatus(limit=10000, window_seconds=60.0, used=147)
    assert RateLimitStatus.parse("garbage") is None and RateLimitStatus.parse(None) is None


def _econ_headers(used: int, limit: int = 600) -> dict[str, str]:
    return {
        "X-CallCost": "3",
        "X-RateLimiting": f"token-limit-{limit}-per-60-seconds: {used}/{limit}",
    }


def _wait_at(used: int, band_fraction: float = BAND_FRACTION) -> float:
    """A fresh pacer told by e-conomic that `used` of 600 tokens (per 60 s) are spent: its wait
    before the next call of 3 tokens."""
    pacer = RateLimitPacer(band_fraction=band_fraction, clock=lambda: 0.0)
    pacer.observe(_econ_headers(used), 200)
    return pacer.delay_for_next_call()


def test_pacer_slows_down_in_the_upper_half_of_the_agreements_bucket() -> None:
    assert RateLimitPacer().delay_for_next_call() == 0  # nothing known yet
    refill = 3 / 10  # one call's 3 tokens at 10 tokens per second
    assert _wait_at(0) == 0 and _wait_at(297) == 0  # above the band: at once
    # 450 used after the call: half way into the band; at the limit, room for 8 processes.
    assert _wait_at(447) == pytest.approx(0.5 * ROOM_FOR * refill)
    assert _wait_at(597) == pytest.approx(ROOM_FOR * refill)
    assert _wait_at(600) == pytest.approx(ROOM_FOR * refill)  # time enough for the call to fit
    # Without the band (each process paces as if alone), only a call that does not fit waits.
    assert _wait_at(597, band_fraction=0) == 0
    assert _wait_at(600, band_fraction=0) == pytest.approx(refill)


def test_concurrent_callers_queue_behind_each_others_reservations() -> None:
    now = [0.0]
    pacer = RateLimitPacer(clock=lambda: now[0])
    pacer.observe(_econ_headers(447), 200)
    waits = [pacer.delay_for_next_call() for _ in range(3)]
    assert waits == sorted(waits) and waits[-1] > waits[0] > 0
    # An answer from the server does not forget the calls reserved for later.
    now[0] = 0.1
    pacer.observe(_econ_headers(447), 200)
    assert pacer.delay_for_next_call() > waits[-1]


def _six_processes(band_fraction: float, seconds: float = 300.0) -> tuple[int, int]:
    """Six processes, each with 4 callers at full speed, on one agreement of 300 tokens per 30 s
    (the sandbox's bucket, a call 3 tokens, answers after 50 ms): (calls taken, 429 answers)."""
    now = [0.0]
    bucket = TokenBucket(300, 30, clock=lambda: now[0])
    pacers = [RateLimitPacer(band_fraction=band_fraction, clock=lambda: now[0]) for _ in range(6)]
    # Events (time, sequence, process, kind): a caller asks its pacer, sends, gets its answer.
    events = [(0.0, i, i % 6, "ask") for i in range(24)]
    heapq.heapify(events)
    sequence, taken, refused = 24, 0, 0
    while events:
        at, _, process, kind = heapq.heappop(events)
        now[0] = at
        if at > seconds:
            break
        pacer = pacers[process]
        if kind == "ask":
            kind, at = "send", at + pacer.delay_for_next_call()
        elif kind == "send":
            ok = bucket.take(3)
            taken, refused = taken + ok, refused + (not ok)
            kind, at = ("answer-200" if ok else "answer-429"), at + 0.05
        else:
            status = 200 if kind == "answer-200" else 429
            pacer.observe(
                {"X-CallCost": "3", "X-RateLimiting": bucket.header()},
                status,
                None if status == 200 else max(1.0, round(bucket.seconds_until(3))),
            )
            kind = "ask"
        sequence += 1
        heapq.heappush(events, (at, sequence, process, kind))
    return taken, refused


def test_six_processes_pacing_in_the_band_stay_inside_one_agreements_budget() -> None:
    sustainable = 300 / 30 / 3 * 300  # calls the bucket allows in 300 s, after its burst
    taken, refused = _six_processes(BAND_FRACTION)
    # Together they use the agreement's whole rate, and are (almost) never refused.
    assert taken > 0.95 * sustainable
    assert refused <= 0.01 * taken
    # Pacing as if alone (no band), the same six processes are refused over and over.
    taken_alone, refused_alone = _six_processes(0.0)
    assert refused_alone > 0.3 * taken_alone


def test_pacer_waits_after_429_and_caps_delays() -> None:
    now = [100.0]
    pacer = RateLimitPacer(clock=lambda: now[0], max_delay=5)
    pacer.observe({"X-RateLimiting": "token-limit-600-per-60-seconds: 600/600"}, 429, 30)
    assert pacer.delay_for_next_call() == 5


async def test_calls_are_counted_by_endpoint_and_status(client: EconomicClient) -> None:
    labels = {
        "endpoint": "/customers/{number}",
        "method": "GET",
        "status": "404",
        "connection": "none",
    }
    before = REGISTRY.get_sample_value("ledgerbridge_economic_calls_total", labels) or 0
    await client.get_customer(424242)
    after = REGISTRY.get_sample_value("ledgerbridge_economic_calls_total", labels)
    assert after == before + 1
    assert endpoint_template("/products/TSHIRT-RED-M") == "/products/{productNumber}"
    assert endpoint_template("/journals/1/vouchers") == "/journals/{number}/vouchers"


async def test_create_vouchers(client: EconomicClient, transport: RecordingTransport) -> None:
    body = VoucherCreate(
        accounting_year=AccountingYearRef(year="2026"),
        journal=JournalRef(journal_number=1),
        entries=VoucherEntries(
            finance_vouchers=[
                FinanceVoucher(
                    date=dt.date(2026, 5, 3),
                    text="Webshop order 1001",
                    amount=Decimal("125.00"),
                    account=AccountRef(account_number=5820),
                    contra_account=AccountRef(account_number=1010),
                    currency=CurrencyCodeRef(code="DKK"),
                )
            ]
        ),
    )
    [voucher] = await client.create_vouchers(1, body, idempotency_key="order-1001:voucher")
    assert voucher.voucher_number == 1
    assert voucher.entries.finance_vouchers[0].journal_entry_number == 1
    assert voucher.entries.finance_vouchers[0].amount == Decimal("125.00")
    assert_schema("journals.journalNumber.vouchers.post", transport.bodies("POST", "/vouchers")[0])
    bad = body.model_copy(deep=True)
    bad.entries.finance_vouchers[0].amount = Decimal("1.005")
    with pytest.raises(EconomicValidationError) as caught:
        await client.create_vouchers(1, bad)
    assert isinstance(caught.value, PermanentError)
    assert "entries.financeVouchers[0].amount" in caught.value.reason
