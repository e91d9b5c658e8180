"""The items the QuickBooks tests sell: a stocked hat and a shipping service (the sandbox's
income account 1/7 and asset account 2)."""

from __future__ import annotations

from typing import Any


def hat_and_shipping(hats_on_hand: int = 7) -> list[dict[str, Any]]:
    return [
        {
            "Name": "Hat",
            "Sku": "HAT",
            "Type": "Inventory",
            "IncomeAccountRef": {"value": "1"},
            "AssetAccountRef": {"value": "2"},
            "TrackQtyOnHand": True,
            "QtyOnHand": hats_on_hand,
            "InvStartDate": "2026-01-01",
        },
        {"Name": "Shipping", "Sku": "SHIP", "Type": "Service", "IncomeAccountRef": {"value": "7"}},
    ]
