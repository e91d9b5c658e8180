"""The sandbox's QuickBooks as the tests use it: its address as services see it, and the items
the tests sell (a stocked hat and a shipping service; income accounts 1/7, asset account 2)."""

from __future__ import annotations

from typing import Any

SANDBOX_QBO = "http://sandbox/quickbooks"


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
