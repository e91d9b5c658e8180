"""When an order is transferred: the trigger, gateway overrides and skips."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from lb_common.orders import CanonicalOrder
from lb_ingest import transfer
from lb_ingest.transfer import TransferSettings, decide


def order(**changes) -> CanonicalOrder:
    base = CanonicalOrder(
        platform="shopify",
        shop="s.myshopify.com",
        order_id="1",
        order_name="#1001",
        version=datetime(2025, 3, 1, 10, tzinfo=UTC),
        created_at=datetime(2025, 3, 1, 9, tzinfo=UTC),
        currency="DKK",
        financial_status="pending",
        total_price=Decimal("100.00"),
        payment_gateways=("shopify_payments",),
    )
    return base.model_copy(update=changes)


def test_default_trigger_waits_for_payment():
    waiting = decide(order(), TransferSettings())
    assert (waiting.transfer, waiting.status) == (False, transfer.WAITING)
    assert "paid" in waiting.reason
    assert decide(order(financial_status="paid"), TransferSettings()).transfer


def test_created_trigger_transfers_at_once_and_fulfilled_waits_for_fulfilment():
    assert decide(order(), TransferSettings(trigger="created")).transfer
    settings = TransferSettings(trigger="fulfilled")
    assert not decide(order(financial_status="paid"), settings).transfer
    assert decide(order(fulfillment_status="fulfilled"), settings).transfer


def test_cash_on_delivery_waits_for_fulfilment_through_a_gateway_override():
    settings = TransferSettings(gateway_triggers={"Cash on Delivery (COD)": "fulfilled"})
    cod = order(payment_gateways=("cash on delivery (cod)",), financial_status="paid")
    assert not decide(cod, settings).transfer
    assert decide(cod.model_copy(update={"fulfillment_status": "fulfilled"}), settings).transfer


def test_test_orders_cancelled_orders_and_excluded_channels_are_skipped_with_a_reason():
    test_order = decide(order(test=True, financial_status="paid"), TransferSettings())
    assert (test_order.status, test_order.transfer) == (transfer.SKIPPED, False)
    assert "Test order" in test_order.reason
    kept = decide(
        order(test=True, financial_status="paid"), TransferSettings(skip_test_orders=False)
    )
    assert kept.transfer
    cancelled = decide(
        order(financial_status="paid", cancelled_at=datetime(2025, 3, 2, tzinfo=UTC)),
        TransferSettings(),
    )
    assert cancelled.status == transfer.CANCELLED and not cancelled.transfer
    pos = decide(
        order(financial_status="paid", source_name="pos"),
        TransferSettings(excluded_sources=("POS",)),
    )
    assert pos.status == transfer.SKIPPED and "pos" in pos.reason
