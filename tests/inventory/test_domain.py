"""The pure stock sync decisions: linking catalogues, what to push, what to report."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lb_inventory.domain import (
    Action,
    LedgerItem,
    Link,
    MismatchKind,
    ShopItem,
    decide,
    link_catalogues,
    plan_sync,
    shop_quantity,
)
from lb_inventory.policy import StockSyncSettings


def ledger(number: str, available: str | None = "5") -> LedgerItem:
    return LedgerItem(number, number.title(), Decimal(available) if available is not None else None)


def shop(sku: str | None, item: str) -> ShopItem:
    return ShopItem(sku, item, f"v{item}", f"Variant {item}")


def test_catalogues_link_by_sku_and_report_every_kind_of_mismatch():
    scan = link_catalogues(
        [ledger("A"), ledger("B"), ledger("LEDGER-ONLY"), ledger("SERVICE", None), ledger("DUP")],
        [
            shop("A", "1"),
            shop("B", "2"),
            shop("SHOP-ONLY", "3"),
            shop("DUP", "4"),
            shop("DUP", "5"),
            shop(None, "6"),
        ],
        report_without_sku=True,
    )
    assert [(lk.sku, lk.product_number, lk.inventory_item_id) for lk in scan.links] == [
        ("A", "A", "1"),
        ("B", "B", "2"),
    ]
    found = {(m.kind, m.key) for m in scan.mismatches}
    assert found == {
        (MismatchKind.SHOP_ONLY, "SHOP-ONLY"),
        (MismatchKind.LEDGER_ONLY, "LEDGER-ONLY"),
        (MismatchKind.DUPLICATE_SKU, "DUP"),
        (MismatchKind.NO_SKU, "6"),
    }  # SERVICE keeps no stock: not a mismatch


def test_variants_without_sku_can_be_ignored():
    scan = link_catalogues([], [shop(None, "6")], report_without_sku=False)
    assert scan.mismatches == () and scan.links == ()


@pytest.mark.parametrize(
    ("target", "last_pushed", "shop_level", "wins", "expected"),
    [
        (5, 5, 5, False, Action.UNCHANGED),
        (5, None, 5, False, Action.RECORD),  # first sync, shop already right: no call
        (5, 3, 5, False, Action.RECORD),
        (5, None, 9, False, Action.PUSH),  # first sync: the ledger is the source
        (6, 5, 5, False, Action.PUSH),  # goods receipt in the ledger
        (5, 5, 4, False, Action.REPORT),  # the shop moved on its own
        (5, 5, 4, True, Action.PUSH),  # ... unless the ledger always wins
        (5, 5, None, False, Action.PUSH),  # not stocked at the location yet
    ],
)
def test_decide(target, last_pushed, shop_level, wins, expected):
    assert decide(target, last_pushed, shop_level, ledger_always_wins=wins) is expected


def test_plan_pushes_only_changed_levels_and_reports_shop_changes():
    links = [Link(s, s, f"i{s}", f"v{s}", s) for s in ("A", "B", "C", "D")]
    plan = plan_sync(
        links,
        {"A": Decimal("10"), "B": Decimal("7.9"), "C": Decimal("3"), "D": None},
        {"A": 10, "B": 5, "C": 3},
        {"iA": 10, "iB": 5, "iC": 1},
        ledger_always_wins=False,
    )
    assert [(lk.sku, n) for lk, n in plan.push] == [("B", 7)]
    assert [lk.sku for lk in plan.unchanged] == ["A"]
    assert [(m.key, m.ledger_level, m.shop_level) for m in plan.differs] == [("C", 3, 1)]
    assert [lk.sku for lk in plan.untracked] == ["D"]


@given(st.decimals(min_value=-1000, max_value=1000, places=3))
def test_shop_quantity_never_exceeds_the_ledger(value):
    assert shop_quantity(value) <= value < shop_quantity(value) + 1


def test_settings_need_a_location_when_on():
    with pytest.raises(ValueError, match="location_id"):
        StockSyncSettings(enabled=True)
    assert StockSyncSettings().enabled is False
    assert StockSyncSettings().full_sync_interval_minutes == 15
    with pytest.raises(ValueError):
        StockSyncSettings.model_validate({"full_sync_interval_minutes": 0})
