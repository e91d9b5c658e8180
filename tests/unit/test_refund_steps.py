"""Refunds reported as a figure to date (Keap's refund_total) become the steps between the
figures, each once; a deletion after them credits the rest of the order's total."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from lb_common.events import Refund
from lb_ingest import refund_steps
from lb_ingest.refunds import SeenRefund
from tests.platforms.test_keap_order import SHOP, keap_body, parse

KEY = f"keap:{SHOP}:4242"


def to_date(amount: str) -> Refund:
    figure = Decimal(amount)
    return Refund(
        refund_id=f"refunded-to-date:{figure.quantize(Decimal('0.01'))}",
        created_at="2026-11-28T10:00:00+00:00",
        currency="GBP",
        adjustments=figure,
        total=figure,
    )


def seen(*refunds: Refund) -> list[SeenRefund]:
    return [SeenRefund(KEY, r.refund_id, r.model_dump(mode="json")) for r in refunds]


def test_each_figure_to_date_is_the_step_from_the_last_one_recorded():
    first = refund_steps.step(to_date("100.50"), KEY, [])
    assert first is not None and first.total == first.adjustments == Decimal("100.50")
    second = refund_steps.step(to_date("264.50"), KEY, seen(first))
    assert second is not None
    assert (second.refund_id, second.total) == ("refunded-to-date:264.50", Decimal("164.00"))
    assert "from 100.50 to 264.50" in (second.note or "")
    # A figure that did not grow (an older read) brings nothing; another order's do not count.
    assert refund_steps.step(to_date("100.50"), KEY, seen(first, second)) is None
    other = [SeenRefund("keap:x:1", "refunded-to-date:500.00", {})]
    assert refund_steps.step(to_date("100.50"), KEY, other) == first


def test_a_platforms_own_refund_passes_as_it_is():
    own = to_date("5").model_copy(update={"refund_id": "987"})
    assert refund_steps.step(own, KEY, seen(to_date("100"))) is own
    assert not refund_steps.credits_by_amount(KEY, [own], [])


def test_a_deletion_after_amount_refunds_credits_the_rest_of_the_total():
    order = parse(keap_body())  # total 264.5
    assert refund_steps.credits_by_amount(KEY, [], seen(to_date("20")))
    assert refund_steps.credits_by_amount(KEY, [to_date("20")], [])
    assert not refund_steps.credits_by_amount(KEY, [], [])
    closing = refund_steps.closing(order, datetime(2026, 11, 28, 11, tzinfo=UTC))
    rest = refund_steps.step(closing, KEY, seen(to_date("20")))
    assert rest is not None and rest.total == Decimal("244.50")
    assert rest.refund_id == "refunded-to-date:264.50"
    # Refunded in full before: nothing left.
    assert refund_steps.step(closing, KEY, seen(to_date("264.5"))) is None
