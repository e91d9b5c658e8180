"""Shopify refund body (REST Refund resource, also `order.refunds[]`) → Refund.

Sign conventions: in `Refund`, every amount is positive when money goes back to the buyer.
Shopify's order adjustments are the other way round (a shipping refund or an amount-only refund
is a negative `amount`), so they are negated here.
"""

from __future__ import annotations

from decimal import Decimal

from lb_common.events import Refund, RefundLine

from ._reader import ZERO, Obj, build, total
from .base import PayloadError

# restock_type values that put the goods back in stock ("no_restock" does not).
_RESTOCKING = frozenset({"cancel", "return", "legacy_restock"})


def refund_from(r: Obj, *, order_currency: str | None = None) -> tuple[str, Refund]:
    currency = _shop_currency(r) or order_currency or _transaction_currency(r)
    if not currency:
        raise PayloadError(f"{r.where('currency')}: cannot tell the refund's currency")
    lines = tuple(
        _line(rli, refund_restocks=r.flag("restock")) for rli in r.objs("refund_line_items")
    )

    adjustments = r.objs("order_adjustments")
    shipping_adjustments = [a for a in adjustments if a.clean_text("kind") == "shipping_refund"]
    other_adjustments = [a for a in adjustments if a.clean_text("kind") != "shipping_refund"]
    if shipping_adjustments:
        shipping = -total([_adjustment(a) for a in shipping_adjustments])
    else:
        # Newer API versions report refunded shipping per shipping line instead.
        shipping = total([_refund_shipping_line(s) for s in r.objs("refund_shipping_lines")])
    amount_only = -total([_adjustment(a) for a in other_adjustments])

    computed = total([line.subtotal + line.tax for line in lines]) + shipping + amount_only
    refunded = _refunded_by_transactions(r, currency)
    created_at = r.opt_when("created_at") or r.when("processed_at")
    refund = build(
        Refund,
        r.path or "refund",
        refund_id=r.ident("id"),
        created_at=created_at.isoformat(),
        currency=currency,
        lines=lines,
        shipping=shipping,
        adjustments=amount_only,
        # "refunds/create ... independent from the movement of money": the transactions say what
        # was actually paid back; without any, the refunded goods are the best figure we have.
        total=refunded if refunded is not None else computed,
        note=r.clean_text("note"),
    )
    return r.ident("order_id"), refund


def _line(rli: Obj, *, refund_restocks: bool) -> RefundLine:
    item = rli.opt_obj("line_item")
    restock_type = rli.clean_text("restock_type")
    return build(
        RefundLine,
        rli.path,
        line_id=rli.ident("line_item_id"),
        sku=item.clean_text("sku") if item else None,
        title=(item.clean_text("name") or item.clean_text("title") or "") if item else "",
        quantity=rli.money("quantity"),
        # `subtotal` / `total_tax` are JSON numbers here (strings elsewhere); both are shop money.
        subtotal=_amount(rli, "subtotal", "subtotal_set"),
        tax=_amount(rli, "total_tax", "total_tax_set"),
        restock=restock_type in _RESTOCKING if restock_type else refund_restocks,
    )


def _amount(o: Obj, plain: str, money_set: str) -> Decimal:
    if o.has(plain):
        return o.money(plain)
    shop_money = _shop_money(o, money_set)
    return shop_money.money("amount") if shop_money else ZERO


def _shop_money(o: Obj, money_set: str) -> Obj | None:
    bag = o.opt_obj(money_set)
    return bag.opt_obj("shop_money") if bag else None


def _adjustment(a: Obj) -> Decimal:
    return _amount(a, "amount", "amount_set") + _amount(a, "tax_amount", "tax_amount_set")


def _refund_shipping_line(s: Obj) -> Decimal:
    return _amount(s, "subtotal_amount", "subtotal_amount_set") + _amount(
        s, "tax_amount", "tax_amount_set"
    )


def _refunded_by_transactions(r: Obj, currency: str) -> Decimal | None:
    amounts = []
    for t in r.objs("transactions"):
        if t.clean_text("kind") != "refund" or t.clean_text("status") != "success":
            continue
        # A transaction is in the currency the buyer paid in; on a multi-currency order that is
        # not the shop currency, and mixing the two would corrupt the total.
        t_currency = t.clean_text("currency")
        if t_currency and t_currency.upper() != currency.upper():
            continue
        amounts.append(t.money("amount"))
    return total(amounts) if amounts else None


def _shop_currency(r: Obj) -> str | None:
    """The shop currency, read from any MoneyBag in the refund (the body has no plain field)."""
    candidates = [_shop_money(r, "total_duties_set")]
    candidates += [_shop_money(rli, "subtotal_set") for rli in r.objs("refund_line_items")]
    candidates += [_shop_money(a, "amount_set") for a in r.objs("order_adjustments")]
    for shop_money in candidates:
        code = shop_money.clean_text("currency_code") if shop_money else None
        if code:
            return code
    return None


def _transaction_currency(r: Obj) -> str | None:
    return next((c for t in r.objs("transactions") if (c := t.clean_text("currency"))), None)
