"""A GraphQL `Order` (as OrderForReconcile reads it) → the order body Shopify's orders/*
webhooks send (REST field names), so reconciled orders go through the same parser as webhooks.

Only the fields `platforms/_shopify_order.py` reads are carried. Refunds are not: a lost
refunds/create webhook is not recovered by reconciliation.
"""

from __future__ import annotations

from typing import Any

from .gids import number

_FULFILLMENT: dict[str, str | None] = {
    "FULFILLED": "fulfilled",
    "PARTIALLY_FULFILLED": "partial",
    "UNFULFILLED": None,
}


def _fulfillment(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return _FULFILLMENT[value] if value in _FULFILLMENT else value.lower()


def _bag(bag: Any) -> dict[str, Any] | None:
    if not isinstance(bag, dict):
        return None
    return {
        "shop_money": {
            "amount": bag["shopMoney"]["amount"],
            "currency_code": bag["shopMoney"]["currencyCode"],
        },
        "presentment_money": {
            "amount": bag["presentmentMoney"]["amount"],
            "currency_code": bag["presentmentMoney"]["currencyCode"],
        },
    }


def _amount(bag: Any) -> str | None:
    return str(bag["shopMoney"]["amount"]) if isinstance(bag, dict) else None


def _money_pair(key: str, bag: Any) -> dict[str, Any]:
    return {key: _amount(bag), f"{key}_set": _bag(bag)}


def _address(a: Any) -> dict[str, Any] | None:
    if not isinstance(a, dict):
        return None
    return {
        "first_name": a.get("firstName"),
        "last_name": a.get("lastName"),
        "name": a.get("name"),
        "company": a.get("company"),
        "address1": a.get("address1"),
        "address2": a.get("address2"),
        "city": a.get("city"),
        "zip": a.get("zip"),
        "province": a.get("province"),
        "country": a.get("country"),
        "country_code": a.get("countryCodeV2"),
        "phone": a.get("phone"),
    }


def _allocations(items: Any) -> list[dict[str, Any]]:
    return [_money_pair("amount", a["allocatedAmountSet"]) for a in items or []]


def _tax_lines(items: Any) -> list[dict[str, Any]]:
    return [
        {"title": t.get("title"), "rate": t.get("rate"), **_money_pair("price", t["priceSet"])}
        for t in items or []
    ]


def _legacy(obj: Any) -> int | None:
    if not isinstance(obj, dict) or obj.get("legacyResourceId") is None:
        return None
    return int(obj["legacyResourceId"])


def order_body(order: dict[str, Any]) -> dict[str, Any]:
    customer = order.get("customer")
    status = order.get("displayFinancialStatus")
    fulfillment = order.get("displayFulfillmentStatus")
    return {
        "id": int(order["legacyResourceId"]),
        "admin_graphql_api_id": order["id"],
        "name": order.get("name"),
        "created_at": order.get("createdAt"),
        "updated_at": order.get("updatedAt"),
        "cancelled_at": order.get("cancelledAt"),
        "closed_at": order.get("closedAt"),
        "test": bool(order.get("test")),
        "email": order.get("email"),
        "phone": order.get("phone"),
        "note": order.get("note"),
        "currency": order.get("currencyCode"),
        "presentment_currency": order.get("presentmentCurrencyCode"),
        "taxes_included": bool(order.get("taxesIncluded")),
        "financial_status": status.lower() if isinstance(status, str) else None,
        "fulfillment_status": _fulfillment(fulfillment),
        "payment_gateway_names": list(order.get("paymentGatewayNames") or []),
        "source_name": order.get("sourceName"),
        "note_attributes": [
            {"name": a["key"], "value": a.get("value")} for a in order.get("customAttributes") or []
        ],
        "customer": (
            {
                "id": _legacy(customer),
                "first_name": customer.get("firstName"),
                "last_name": customer.get("lastName"),
                "email": customer.get("email"),
                "phone": customer.get("phone"),
                "default_address": _address(customer.get("defaultAddress")),
            }
            if isinstance(customer, dict)
            else None
        ),
        "billing_address": _address(order.get("billingAddress")),
        "shipping_address": _address(order.get("shippingAddress")),
        **_money_pair("total_discounts", order.get("totalDiscountsSet")),
        **_money_pair("total_tax", order.get("totalTaxSet")),
        **_money_pair("total_price", order.get("totalPriceSet")),
        "line_items": [
            {
                "id": int(number(li["id"])),
                "sku": li.get("sku"),
                "name": li.get("name"),
                "title": li.get("title"),
                "quantity": li.get("quantity"),
                "gift_card": bool(li.get("isGiftCard")),
                **_money_pair("price", li["originalUnitPriceSet"]),
                "discount_allocations": _allocations(li.get("discountAllocations")),
                "tax_lines": _tax_lines(li.get("taxLines")),
                "product_id": _legacy(li.get("product")),
                "variant_id": _legacy(li.get("variant")),
            }
            for li in order["lineItems"]["nodes"]
        ],
        "shipping_lines": [
            {
                "id": int(number(s["id"])) if s.get("id") else None,
                "title": s.get("title"),
                "code": s.get("code"),
                "is_removed": bool(s.get("isRemoved")),
                **_money_pair("price", s["originalPriceSet"]),
                "discount_allocations": _allocations(s.get("discountAllocations")),
                "tax_lines": _tax_lines(s.get("taxLines")),
            }
            for s in order["shippingLines"]["nodes"]
        ],
    }
