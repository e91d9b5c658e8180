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
    Pushed,
    ShopItem,
    decide,
    expected_shop_level,
    free_to_sell,
    link_catalogues,
    plan_sync,
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
    ("target", "expected", "shop_level", "open_", "wins", "action"),
    [
        (5, 5, 5, False, False, Action.UNCHANGED),
        (5, None, 5, False, False, Action.RECORD),  # first sync, shop already right: no call
        (5, 3, 5, False, False, Action.RECORD),
        (5, None, 9, False, False, Action.PUSH),  # first sync: the ledger is the source
        (6, 5, 5, False, False, Action.PUSH),  # goods receipt in the ledger
        (5, 5, 4, False, False, Action.REPORT),  # the shop moved on its own
        (5, 5, 4, False, True, Action.PUSH),  # ... unless the ledger always wins
        (5, 5, None, False, False, Action.PUSH),  # not stocked at the location yet
        # The ledger moved and the shop moved on its own: the shop's figure is not erased...
        (6, 5, 4, False, False, Action.REPORT),
        # ... but never left above what is free: lowered, the difference stays open.
        (4, 5, 7, False, False, Action.LOWER),
        # An open difference holds the SKU even when the shop did not move again.
        (8, 5, 5, True, False, Action.REPORT),
        (3, 5, 5, True, False, Action.LOWER),
        (8, 5, 5, True, True, Action.PUSH),
    ],
)
def test_decide(target, expected, shop_level, open_, wins, action):
    assert (
        decide(target, expected, shop_level, difference_open=open_, ledger_always_wins=wins)
        is action
    )


def test_the_shops_own_sales_are_expected_moves_not_differences():
    # Pushed 46 with nothing held; the shop sold 3 (held now): it is expected to show 43.
    assert expected_shop_level(46, Decimal(0), Decimal(3)) == 43
    # The invoice of one of them is booked: 2 still held.
    assert expected_shop_level(43, Decimal(3), Decimal(2)) == 44
    assert expected_shop_level(None, Decimal(0), Decimal(3)) is None


def test_plan_pushes_only_changed_levels_and_reports_shop_changes():
    links = [Link(s, s, f"i{s}", f"v{s}", s) for s in ("A", "B", "C", "D", "E")]
    plan = plan_sync(
        links,
        {
            "A": Decimal("10"),
            "B": Decimal("7.9"),
            "C": Decimal("3"),
            "D": None,
            "E": Decimal("10"),
        },
        {"E": Decimal("4")},
        {s: Pushed(n) for s, n in {"A": 10, "B": 5, "C": 3, "E": 10}.items()},
        {"iA": 10, "iB": 5, "iC": 1, "iE": 6},
        set(),
        ledger_always_wins=False,
    )
    assert [(lk.sku, n) for lk, n in plan.push] == [("B", 7)]
    # E: the shop sold 4 not yet booked; it shows 6, the free figure: nothing to do.
    assert [lk.sku for lk in plan.unchanged] == ["A", "E"]
    assert plan.record == ()
    assert [(m.key, m.ledger_level, m.shop_level) for m in plan.differs] == [("C", 3, 1)]
    assert [lk.sku for lk in plan.untracked] == ["D"]


def test_units_held_by_unbooked_orders_are_not_pushed_to_the_shop():
    """The issue's case: the ledger has 46, the shop sold 3 that are not booked yet, then goods
    arrive in the ledger (+5): the shop may show 48, not 51."""
    [link] = links = [Link("MUG", "MUG", "i1", "v1", "Mug")]
    plan = plan_sync(
        links,
        {"MUG": Decimal("51")},
        {"MUG": Decimal("3")},
        {"MUG": Pushed(46)},
        {"i1": 43},
        set(),
        ledger_always_wins=False,
    )
    assert plan.push == ((link, 48),)


@given(
    st.decimals(min_value=-1000, max_value=1000, places=3),
    st.decimals(min_value=0, max_value=1000, places=0),
)
def test_the_shop_never_gets_more_than_is_free(available, held):
    free = free_to_sell(available, held)
    assert free <= available - held < free + 1


def test_settings_need_a_location_when_on():
    with pytest.raises(ValueError, match="location_id"):
        StockSyncSettings(enabled=True)
    assert StockSyncSettings().enabled is False
    assert StockSyncSettings().full_sync_interval_minutes == 15
    with pytest.raises(ValueError):
        StockSyncSettings.model_validate({"full_sync_interval_minutes": 0})
