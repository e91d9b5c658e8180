"""A GraphQL `Order` (as OrderForReconcile reads it) → the order body Shopify's orders/*
webhooks send (REST field names), so reconciled orders go through the same parser as webhooks.

Only the fields `platforms/_shopify_order.py` and `_shopify_refund.py` read are carried. The
refunds go in `refunds[]` as REST order bodies carry them, so reconciliation recovers a refund
whose refunds/create webhook was lost. From 2024-10 Shopify reports a refunded shipping amount
as a refund shipping line, and order adjustments are refund discrepancies only.
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


def _refund_line(rli: dict[str, Any]) -> dict[str, Any]:
    item = rli.get("lineItem") or {}
    restock = rli.get("restockType")
    return {
        "id": int(number(rli["id"])) if rli.get("id") else None,
        "line_item_id": int(number(item["id"])),
        "quantity": rli.get("quantity"),
        "restock_type": restock.lower() if isinstance(restock, str) else None,
        **_money_pair("subtotal", rli.get("subtotalSet")),
        **_money_pair("total_tax", rli.get("totalTaxSet")),
        "line_item": {
            "id": int(number(item["id"])),
            "sku": item.get("sku"),
            "name": item.get("name"),
            "title": item.get("title"),
        },
    }


def _transaction(t: dict[str, Any]) -> dict[str, Any]:
    paid = (t.get("amountSet") or {}).get("presentmentMoney") or {}
    return {
        "id": int(number(t["id"])),
        "kind": str(t.get("kind") or "").lower(),
        "status": str(t.get("status") or "").lower(),
        # REST gives a transaction in the currency the buyer paid in.
        "amount": paid.get("amount"),
        "currency": paid.get("currencyCode"),
    }


def refund_body(refund: dict[str, Any], order_id: int) -> dict[str, Any]:
    """A GraphQL `Refund` (as RefundForReconcile reads it) → the REST Refund resource."""
    return {
        "id": int(refund["legacyResourceId"]),
        "admin_graphql_api_id": refund["id"],
        "order_id": order_id,
        "created_at": refund.get("createdAt"),
        "processed_at": refund.get("createdAt"),
        "note": refund.get("note"),
        "refund_line_items": [_refund_line(r) for r in refund["refundLineItems"]["nodes"]],
        "refund_shipping_lines": [
            {
                "id": int(number(s["id"])),
                "subtotal_amount_set": _bag(s.get("subtotalAmountSet")),
                "tax_amount_set": _bag(s.get("taxAmountSet")),
            }
            for s in refund["refundShippingLines"]["nodes"]
        ],
        "order_adjustments": [
            {
                "id": int(number(a["id"])),
                "kind": "refund_discrepancy",
                "reason": str(a.get("reason") or "").lower() or None,
                **_money_pair("amount", a.get("amountSet")),
                **_money_pair("tax_amount", a.get("taxAmountSet")),
            }
            for a in refund["orderAdjustments"]["nodes"]
        ],
        "transactions": [_transaction(t) for t in refund["transactions"]["nodes"]],
    }


def order_body(
    order: dict[str, Any],
    *,
    lines: list[dict[str, Any]] | None = None,
    refunds: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`lines`: every line item when the order took more than one page (default: the first
    page's); `refunds`: each refund as RefundForReconcile read it."""
    order_id = int(order["legacyResourceId"])
    customer = order.get("customer")
    status = order.get("displayFinancialStatus")
    fulfillment = order.get("displayFulfillmentStatus")
    return {
        "id": order_id,
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
            for li in (order["lineItems"]["nodes"] if lines is None else lines)
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
        "refunds": [refund_body(r, order_id) for r in refunds or []],
    }
