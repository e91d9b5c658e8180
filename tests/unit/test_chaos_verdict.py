"""`make chaos` judges the ledger order by order: these check that it counts what a bookkeeper
would call lost, duplicated, wrong or over-credited, and nothing else."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lb_connectors.platforms import shopify
from scripts.chaos_orders import Expected, Share, build_run
from scripts.chaos_verdict import judge

KEY = "shopify:chaos-shop.myshopify.com:{}"


def _doc(reference: str, gross: str, number: int) -> dict[str, Any]:
    return {"bookedInvoiceNumber": number, "grossAmount": gross, "references": {"other": reference}}


def _order(n: int, total: str = "250.00", **kw: Any) -> Expected:
    return Expected(index=n, order_id=n, total=Decimal(total), **kw)


def test_booked_orders_with_their_credit_notes_are_clean() -> None:
    refunded = _order(2, refunds={"21": Decimal("125.00")})
    cancelled = _order(3, cancelled=True, refunds={"31": Decimal("62.50")})
    ledger = {
        "booked_invoices": [
            _doc(KEY.format(1), "250.00", 1),
            _doc(KEY.format(2), "250.00", 2),
            _doc(KEY.format(2) + ":refund:21", "-125.00", 3),
            _doc(KEY.format(3), "250.00", 4),
            _doc(KEY.format(3) + ":refund:31", "-62.50", 5),
            _doc(KEY.format(3) + ":cancel", "-187.50", 6),
        ]
    }
    statuses = {
        KEY.format(1): "booked",
        KEY.format(2): "partly_credited",
        KEY.format(3): "credited",
    }
    verdict = judge(
        [_order(1), refunded, cancelled, _order(4, cancelled=True)], ledger, ingest_status=statuses
    )
    assert verdict.problems == []
    assert (verdict.booked, verdict.cancelled_unbooked, verdict.failures) == (3, 1, 0)
    # ingest shows each booked order as booked or further on: nothing behind the ledger.
    assert verdict.status_behind == 0
    behind = judge([_order(1)], ledger, ingest_status={KEY.format(1): "customer_resolved"})
    assert behind.status_behind == 1


def test_each_kind_of_damage_is_counted_once_with_the_order_named() -> None:
    orders = [
        _order(1),  # two invoices
        _order(2),  # none
        _order(3, total="300.00"),  # invoice for less than the shop's total
        _order(4, refunds={"41": Decimal("125.00")}),  # credit note missing
        _order(5, refunds={"51": Decimal("125.00")}),  # credited twice, more than invoiced
        _order(6, cancelled=True),  # cancelled after booking, never credited
    ]
    ledger = {
        "booked_invoices": [
            _doc(KEY.format(1), "250.00", 1),
            _doc(KEY.format(1), "250.00", 2),
            _doc(KEY.format(3), "250.00", 3),
            _doc(KEY.format(4), "250.00", 4),
            _doc(KEY.format(5), "250.00", 5),
            _doc(KEY.format(5) + ":refund:51", "-125.00", 6),
            _doc(KEY.format(5) + ":refund:51", "-125.00", 7),
            _doc(KEY.format(5) + ":cancel", "-125.00", 8),
            _doc(KEY.format(6), "250.00", 9),
        ],
        "drafts": [{"references": {"other": KEY.format(2)}}],
    }
    parked = {"invoicing": [{"order_key": KEY.format(2), "type": "order.refunded", "reason": "x"}]}
    verdict = judge(orders, ledger, ingest_status={KEY.format(2): "transferred"}, parked=parked)
    found = sorted((p.order_key[-1], p.figure) for p in verdict.problems)
    assert found == [
        ("1", "duplicated"),
        ("2", "lost"),
        ("2", "parked"),
        ("3", "wrong_totals"),
        ("4", "credits_missing"),
        ("5", "duplicated"),
        ("5", "over_credited"),
        ("5", "wrong_totals"),  # a cancellation credit note for an order not cancelled
        ("6", "credits_missing"),
    ]
    assert verdict.stray_drafts == 1
    assert "ingest status transferred" in next(
        p.detail for p in verdict.problems if p.figure == "lost"
    )
    assert verdict.pending() == [KEY.format(n) for n in (2, 4, 6)]


def test_the_orders_are_signed_shopify_deliveries_that_add_up() -> None:
    every = Share(refund=1.0, cancel=0.5, paid_first=0.5, duplicate=1.0, stale=1.0)
    expected, deliveries = build_run(12, seed=3, duration=5, share=every)
    assert [d.at for d in deliveries] == sorted(d.at for d in deliveries)
    for exp in expected:
        mine = [d for d in deliveries if d.order_index == exp.index]
        orders = [d for d in mine if d.topic.startswith("orders/")]
        latest = max(
            (shopify.parse_order(d.body, shop="s") for d in orders), key=lambda o: o.version
        )
        assert latest.total_price == exp.total
        refunds = [shopify.parse_refund(d.body, shop="s")[1] for d in mine if "refund" in d.topic]
        assert {r.refund_id: r.total for r in refunds} == exp.refunds
        assert any(d.kind == "duplicate" for d in mine) and any(d.kind == "stale" for d in mine)
        firsts = [d.topic for d in mine if d.kind == "first"]
        assert (firsts.index("orders/paid") < firsts.index("orders/create")) == (
            exp.paid_before_created
        )
