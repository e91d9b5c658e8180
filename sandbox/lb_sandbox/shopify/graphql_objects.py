"""The sandbox shop's state as GraphQL Admin API objects: plain dicts whose values are data or,
for fields with arguments, functions graphql-core's default resolver calls with them.

`bulk=True` builds them for a bulk operation, where connections take no `first` and return
every node.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from .state import Entity, Shop

MAX_PAGE = 250
Obj = dict[str, Any]


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_number(value: str, kind: str) -> int | None:
    prefix = f"gid://shopify/{kind}/"
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    rest = value[len(prefix) :].split("?", 1)[0]
    # ASCII digits of an int64 only: "³".isdigit() is true and int() refuses it.
    return int(rest) if rest.isascii() and rest.isdigit() and len(rest) <= 18 else None


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{index}".encode()).decode()


def _index(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        return int(text.removeprefix("cursor:")) + 1
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from exc


def connection(
    items: Sequence[Any], make: Callable[[Any], Obj], bulk: bool, args: dict[str, Any]
) -> Obj:
    """A Relay connection over `items`; outside bulk, `first` (≤ 250) is required."""
    first: int | None = args.get("first")
    start = _index(args.get("after"))
    if bulk:
        end = len(items)
    else:
        if args.get("last") is not None:
            raise GraphQLError("the sandbox pages forward only: use first and after")
        if first is None:
            raise GraphQLError("you must provide one of first or last")
        if not 0 <= first <= MAX_PAGE:
            raise GraphQLError(f"first must be between 0 and {MAX_PAGE}")
        end = min(len(items), start + first)
    nodes = [make(item) for item in items[start:end]]
    return {
        "edges": [{"cursor": _cursor(start + i), "node": n} for i, n in enumerate(nodes)],
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": _cursor(start) if nodes else None,
            "endCursor": _cursor(end - 1) if nodes else None,
        },
    }


class Objects:
    def __init__(self, shop: Shop, *, bulk: bool = False) -> None:
        self.shop = shop
        self.bulk = bulk

    # --- locations ---------------------------------------------------------------------------

    def location(self, loc: Entity) -> Obj:
        def level(info: GraphQLResolveInfo, inventoryItemId: str) -> Obj | None:
            item = gid_number(inventoryItemId, "InventoryItem")
            return self.level(item, loc["id"]) if item is not None else None

        return {
            "__typename": "Location",
            "id": gid("Location", loc["id"]),
            "legacyResourceId": str(loc["id"]),
            "name": loc["name"],
            "isActive": bool(loc.get("active", True)),
            "address": {
                "address1": loc.get("address1"),
                "city": loc.get("city"),
                "zip": loc.get("zip"),
                "countryCode": loc.get("country_code"),
            },
            "inventoryLevel": level,
        }

    def locations(self, info: GraphQLResolveInfo, **args: Any) -> Obj:
        shop = self.shop
        found = [shop.locations[k] for k in sorted(shop.locations)]
        if not args.get("includeInactive"):
            found = [loc for loc in found if loc.get("active", True)]
        return connection(found, self.location, self.bulk, args)

    # --- products, variants, inventory -------------------------------------------------------

    def product(self, product: Entity) -> Obj:
        return {
            "__typename": "Product",
            "id": gid("Product", product["id"]),
            "legacyResourceId": str(product["id"]),
            "title": product["title"],
            "status": str(product.get("status", "active")).upper(),
        }

    def variant(self, pair: tuple[Entity, Entity]) -> Obj:
        product, variant = pair
        title = variant.get("title") or "Default Title"
        return {
            "__typename": "ProductVariant",
            "id": gid("ProductVariant", variant["id"]),
            "legacyResourceId": str(variant["id"]),
            "sku": variant.get("sku") or "",
            "title": title,
            "displayName": f"{product['title']} - {title}",
            "inventoryQuantity": variant.get("inventory_quantity"),
            "product": lambda info: self.product(product),
            "inventoryItem": lambda info: self.item(variant["inventory_item_id"]),
        }

    def product_variants(self, info: GraphQLResolveInfo, **args: Any) -> Obj:
        if args.get("query"):
            raise GraphQLError("the sandbox does not filter productVariants by query")
        return connection(self.shop.variants(), self.variant, self.bulk, args)

    def item(self, item_id: int) -> Obj | None:
        found = self.shop.items.get(item_id)
        if found is None:
            return None
        product, variant = found

        def level(info: GraphQLResolveInfo, locationId: str) -> Obj | None:
            location = gid_number(locationId, "Location")
            return self.level(item_id, location) if location is not None else None

        def levels(info: GraphQLResolveInfo, **args: Any) -> Obj:
            stocked = [
                loc for loc in sorted(self.shop.locations) if (item_id, loc) in self.shop.levels
            ]
            made = [lv for loc in stocked if (lv := self.level(item_id, loc)) is not None]
            return connection(made, lambda lv: lv, self.bulk, args)

        return {
            "__typename": "InventoryItem",
            "id": gid("InventoryItem", item_id),
            "legacyResourceId": str(item_id),
            "sku": variant.get("sku") or None,
            "tracked": variant.get("inventory_management") == "shopify",
            "variant": lambda info: self.variant((product, variant)),
            "inventoryLevel": level,
            "inventoryLevels": levels,
        }

    def level(self, item_id: int, location_id: int) -> Obj | None:
        level = self.shop.levels.get((item_id, location_id))
        if level is None:
            return None

        def quantities(info: GraphQLResolveInfo, names: list[str]) -> list[Obj]:
            known = {"available": level["available"]}
            return [
                {
                    "__typename": "InventoryQuantity",
                    "id": f"gid://shopify/InventoryQuantity/{location_id}?inventory_item_id="
                    f"{item_id}&name={name}",
                    "name": name,
                    "quantity": known.get(name) or 0,
                    "updatedAt": level.get("updated_at"),
                }
                for name in names
            ]

        return {
            "__typename": "InventoryLevel",
            "id": level["admin_graphql_api_id"],
            "item": lambda info: self.item(item_id),
            "location": lambda info: self.location(self.shop.locations[location_id]),
            "quantities": quantities,
            "updatedAt": level.get("updated_at"),
        }

    def nodes(self, info: GraphQLResolveInfo, ids: list[str]) -> list[Obj | None]:
        found: list[Obj | None] = []
        for value in ids:
            if (n := gid_number(value, "InventoryItem")) is not None:
                found.append(self.item(n))
            elif (n := gid_number(value, "Location")) is not None:
                loc = self.shop.locations.get(n)
                found.append(self.location(loc) if loc else None)
            elif (n := gid_number(value, "ProductVariant")) is not None:
                pairs = [(p, v) for p, v in self.shop.items.values() if v["id"] == n]
                found.append(self.variant(pairs[0]) if pairs else None)
            else:
                found.append(None)
        return found

    # --- webhook subscriptions ----------------------------------------------------------------

    def subscription(self, sub: Entity) -> Obj:
        return {"__typename": "WebhookSubscription", **sub}

    def webhook_subscriptions(self, info: GraphQLResolveInfo, **args: Any) -> Obj:
        subs = [self.shop.webhook_subscriptions[k] for k in sorted(self.shop.webhook_subscriptions)]
        topics = args.get("topics")
        if topics:
            subs = [s for s in subs if s["topic"] in topics]
        return connection(subs, self.subscription, self.bulk, args)

    # --- bulk operations ----------------------------------------------------------------------

    def bulk_operation(self, info: GraphQLResolveInfo, id: str) -> Obj | None:
        number = gid_number(id, "BulkOperation")
        op = self.shop.bulk_operations.get(number) if number is not None else None
        return dict(op) if op is not None else None

    def current_bulk_operation(self, info: GraphQLResolveInfo, type: str = "QUERY") -> Obj | None:
        ops = [op for op in self.shop.bulk_operations.values() if op["type"] == type]
        return dict(ops[-1]) if ops else None

    # --- orders (stored in the REST shape the sandbox's admin endpoint takes) ------------------

    def orders(self, info: GraphQLResolveInfo, **args: Any) -> Obj:
        floor, strict = _updated_filter(args.get("query"))
        found = []
        for key in sorted(self.shop.orders):
            body = self.shop.orders[key]
            updated = _when(body.get("updated_at"))
            if floor is not None and (updated < floor or (strict and updated == floor)):
                continue
            found.append(body)
        if args.get("sortKey") == "UPDATED_AT":
            found.sort(key=lambda b: (_when(b.get("updated_at")), b["id"]))
        if args.get("reverse"):
            found.reverse()
        return connection(found, order_object, self.bulk, args)

    def refund(self, info: GraphQLResolveInfo, id: str) -> Obj | None:
        number = gid_number(id, "Refund")
        for body in self.shop.orders.values():
            for refund in body.get("refunds") or []:
                if number is not None and int(refund.get("id") or 0) == number:
                    return refund_object(refund, body.get("currency") or "DKK")
        return None

    def order(self, info: GraphQLResolveInfo, id: str) -> Obj | None:
        number = gid_number(id, "Order")
        body = self.shop.orders.get(number) if number is not None else None
        return order_object(body) if body is not None else None

    def query(self) -> Obj:
        """The root Query object."""
        return {
            "orders": self.orders,
            "order": self.order,
            "refund": self.refund,
            "locations": self.locations,
            "productVariants": self.product_variants,
            "nodes": self.nodes,
            "bulkOperation": self.bulk_operation,
            "currentBulkOperation": self.current_bulk_operation,
            "webhookSubscriptions": self.webhook_subscriptions,
        }


_UPDATED = re.compile(r"^\s*updated_at:(>=|>)\s*'?\"?([^'\"]+)'?\"?\s*$")


def _when(value: Any) -> datetime:
    text = str(value or "1970-01-01T00:00:00+00:00").replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _updated_filter(query: str | None) -> tuple[datetime | None, bool]:
    """`updated_at:>='2026-11-01T00:00:00Z'` (the only search the sandbox understands)."""
    if not query:
        return None, False
    match = _UPDATED.match(query)
    if match is None:
        raise GraphQLError(f"the sandbox only searches orders by updated_at:>=…, not {query!r}")
    try:
        return _when(match[2]), match[1] == ">"
    except ValueError as exc:
        raise GraphQLError(f"invalid date in {query!r}") from exc


def _bag(amount: Any, currency: str, twin: Any = None) -> Obj:
    """A MoneyBag from a REST amount and its `*_set` twin (when the body has one)."""
    shop = {"amount": str(amount if amount is not None else "0.00"), "currencyCode": currency}
    presentment = dict(shop)
    if isinstance(twin, dict):
        money = twin.get("presentment_money") or {}
        if money.get("amount") is not None:
            presentment = {
                "amount": str(money["amount"]),
                "currencyCode": money.get("currency_code") or currency,
            }
    return {"shopMoney": shop, "presentmentMoney": presentment}


def _address_object(a: Any) -> Obj | None:
    if not isinstance(a, dict):
        return None
    return {
        "firstName": a.get("first_name"),
        "lastName": a.get("last_name"),
        "name": a.get("name"),
        "company": a.get("company"),
        "address1": a.get("address1"),
        "address2": a.get("address2"),
        "city": a.get("city"),
        "zip": a.get("zip"),
        "province": a.get("province"),
        "country": a.get("country"),
        "countryCodeV2": a.get("country_code"),
        "phone": a.get("phone"),
    }


def _taxes(lines: Any, currency: str) -> list[Obj]:
    return [
        {
            "title": t.get("title"),
            "rate": t.get("rate"),
            "priceSet": _bag(t.get("price"), currency, t.get("price_set")),
        }
        for t in lines or []
    ]


def _allocations(items: Any, currency: str) -> list[Obj]:
    return [
        {"allocatedAmountSet": _bag(a.get("amount"), currency, a.get("amount_set"))}
        for a in items or []
    ]


def line_object(li: Entity, currency: str) -> Obj:
    return {
        "__typename": "LineItem",
        "id": gid("LineItem", int(li["id"])),
        "sku": li.get("sku"),
        "name": li.get("name") or li.get("title") or "",
        "title": li.get("title") or "",
        "quantity": int(li.get("quantity") or 0),
        "isGiftCard": bool(li.get("gift_card")),
        "originalUnitPriceSet": _bag(li.get("price"), currency, li.get("price_set")),
        "discountAllocations": _allocations(li.get("discount_allocations"), currency),
        "taxLines": _taxes(li.get("tax_lines"), currency),
        "product": (
            {
                "__typename": "Product",
                "id": gid("Product", li["product_id"]),
                "legacyResourceId": str(li["product_id"]),
                "title": "",
                "status": "ACTIVE",
            }
            if li.get("product_id")
            else None
        ),
        "variant": (
            {
                "__typename": "ProductVariant",
                "id": gid("ProductVariant", li["variant_id"]),
                "legacyResourceId": str(li["variant_id"]),
            }
            if li.get("variant_id")
            else None
        ),
    }


_RESTOCK_TYPES = {"cancel", "legacy_restock", "no_restock", "return"}


def refund_object(refund: Entity, currency: str) -> Obj:
    """A refund of a stored REST-shaped order (its `refunds[]`, the REST Refund resource) as a
    GraphQL Refund. From 2024-10 a refunded shipping amount is a refund shipping line, and order
    adjustments are discrepancies only: an older body's `shipping_refund` adjustments (negative
    amounts) become shipping lines."""

    def refund_line(rli: Entity) -> Obj:
        restock = str(rli.get("restock_type") or "")
        if restock not in _RESTOCK_TYPES:
            restock = "legacy_restock" if refund.get("restock") else "no_restock"
        item = rli.get("line_item") or {"id": rli.get("line_item_id"), "quantity": 0}
        return {
            "id": gid("RefundLineItem", int(rli["id"])) if rli.get("id") else None,
            "lineItem": line_object(
                {**item, "id": rli.get("line_item_id", item.get("id"))}, currency
            ),
            "quantity": int(rli.get("quantity") or 0),
            "restockType": restock.upper(),
            "restocked": restock != "no_restock",
            "subtotalSet": _bag(rli.get("subtotal"), currency, rli.get("subtotal_set")),
            "totalTaxSet": _bag(rli.get("total_tax"), currency, rli.get("total_tax_set")),
        }

    adjustments = refund.get("order_adjustments") or []
    shipping_lines = [
        {
            "id": gid("RefundShippingLine", int(s.get("id") or 0)),
            "subtotalAmountSet": _bag(
                (s.get("subtotal_amount_set") or {}).get("shop_money", {}).get("amount"),
                currency,
                s.get("subtotal_amount_set"),
            ),
            "taxAmountSet": _bag(
                (s.get("tax_amount_set") or {}).get("shop_money", {}).get("amount"),
                currency,
                s.get("tax_amount_set"),
            ),
        }
        for s in refund.get("refund_shipping_lines") or []
    ] + [
        {
            "id": gid("RefundShippingLine", int(a.get("id") or 0)),
            "subtotalAmountSet": _bag(_negated(a.get("amount")), currency),
            "taxAmountSet": _bag(_negated(a.get("tax_amount")), currency),
        }
        for a in adjustments
        if a.get("kind") == "shipping_refund"
    ]
    discrepancies = [
        {
            "id": gid("OrderAdjustment", int(a.get("id") or 0)),
            "amountSet": _bag(a.get("amount"), currency, a.get("amount_set")),
            "taxAmountSet": _bag(a.get("tax_amount"), currency, a.get("tax_amount_set")),
            "reason": "REFUND_DISCREPANCY" if a.get("kind") == "refund_discrepancy" else None,
        }
        for a in adjustments
        if a.get("kind") != "shipping_refund"
    ]
    transactions = []
    refunded = Decimal(0)
    for t in refund.get("transactions") or []:
        paid_in = t.get("currency") or currency
        money = {"amount": str(t.get("amount") or "0"), "currencyCode": paid_in}
        if t.get("kind") == "refund" and t.get("status") == "success" and paid_in == currency:
            refunded += Decimal(str(t.get("amount") or "0"))
        transactions.append(
            {
                "id": gid("OrderTransaction", int(t.get("id") or 0)),
                "kind": str(t.get("kind") or "refund").upper(),
                "status": str(t.get("status") or "success").upper(),
                # REST gives the amount in the currency paid in; the sandbox does not convert.
                "amountSet": {"shopMoney": money, "presentmentMoney": money},
            }
        )

    def page(items: list[Obj]) -> Callable[..., Obj]:
        return lambda info, **args: connection(items, lambda x: x, False, args)

    return {
        "__typename": "Refund",
        "id": gid("Refund", int(refund["id"])),
        "legacyResourceId": str(refund["id"]),
        "createdAt": refund.get("created_at") or refund.get("processed_at"),
        "note": refund.get("note"),
        "totalRefundedSet": _bag(str(refunded), currency),
        "refundLineItems": lambda info, **args: connection(
            refund.get("refund_line_items") or [], refund_line, False, args
        ),
        "refundShippingLines": page(shipping_lines),
        "orderAdjustments": page(discrepancies),
        "transactions": page(transactions),
    }


def _negated(amount: Any) -> str:
    return str(-Decimal(str(amount or "0")))


def order_object(body: Entity) -> Obj:
    """A stored REST-shaped order as a GraphQL Order."""
    currency = body.get("currency") or "DKK"
    customer = body.get("customer")
    status = body.get("fulfillment_status")

    def line(li: Entity) -> Obj:
        return line_object(li, currency)

    def shipping(s: Entity) -> Obj:
        return {
            "id": gid("ShippingLine", int(s["id"])) if s.get("id") else None,
            "title": s.get("title") or "",
            "code": s.get("code"),
            "isRemoved": bool(s.get("is_removed")),
            "originalPriceSet": _bag(s.get("price"), currency, s.get("price_set")),
            "discountAllocations": _allocations(s.get("discount_allocations"), currency),
            "taxLines": _taxes(s.get("tax_lines"), currency),
        }

    def lines(info: GraphQLResolveInfo, **args: Any) -> Obj:
        return connection(body.get("line_items") or [], line, False, args)

    def shipping_lines(info: GraphQLResolveInfo, **args: Any) -> Obj:
        found = [
            s
            for s in body.get("shipping_lines") or []
            if args.get("includeRemovals") or not s.get("is_removed")
        ]
        return connection(
            found, shipping, False, {k: v for k, v in args.items() if k != "includeRemovals"}
        )

    financial = body.get("financial_status")
    return {
        "__typename": "Order",
        "id": gid("Order", int(body["id"])),
        "legacyResourceId": str(body["id"]),
        "name": body.get("name") or f"#{body['id']}",
        "createdAt": body.get("created_at"),
        "updatedAt": body.get("updated_at"),
        "processedAt": body.get("processed_at") or body.get("created_at"),
        "cancelledAt": body.get("cancelled_at"),
        "closedAt": body.get("closed_at"),
        "test": bool(body.get("test")),
        "email": body.get("email"),
        "phone": body.get("phone"),
        "note": body.get("note"),
        "currencyCode": currency,
        "presentmentCurrencyCode": body.get("presentment_currency") or currency,
        "taxesIncluded": bool(body.get("taxes_included")),
        "displayFinancialStatus": financial.upper() if isinstance(financial, str) else None,
        "displayFulfillmentStatus": {
            "fulfilled": "FULFILLED",
            "partial": "PARTIALLY_FULFILLED",
        }.get(status or "", "UNFULFILLED"),
        "paymentGatewayNames": list(body.get("payment_gateway_names") or []),
        "sourceName": body.get("source_name"),
        "customAttributes": [
            {"key": a.get("name"), "value": a.get("value")}
            for a in body.get("note_attributes") or []
        ],
        "customer": (
            {
                "__typename": "Customer",
                "id": gid("Customer", int(customer["id"])) if customer.get("id") else "",
                "legacyResourceId": str(customer.get("id") or 0),
                "firstName": customer.get("first_name"),
                "lastName": customer.get("last_name"),
                "email": customer.get("email"),
                "phone": customer.get("phone"),
                "defaultAddress": _address_object(customer.get("default_address")),
            }
            if isinstance(customer, dict)
            else None
        ),
        "billingAddress": _address_object(body.get("billing_address")),
        "shippingAddress": _address_object(body.get("shipping_address")),
        "totalDiscountsSet": _bag(
            body.get("total_discounts"), currency, body.get("total_discounts_set")
        ),
        "totalTaxSet": _bag(body.get("total_tax"), currency, body.get("total_tax_set")),
        "totalPriceSet": _bag(body.get("total_price"), currency, body.get("total_price_set")),
        "lineItems": lines,
        "refunds": lambda info, first=None: [
            refund_object(r, currency) for r in (body.get("refunds") or [])[:first]
        ],
        "shippingLines": shipping_lines,
    }
