"""`make demo`: start everything, post signed sample orders, wait until they are booked, print
what happened, stop everything. Exits 0 only if every order was booked exactly once.

The orders: the public Shopify sample (tests/fixtures/public, source named in its README), and
three made up from its shape: a Danish consumer who orders twice (the second time she is a
returning customer), and a Danish company with a CVR number (B2B).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import sys
import tempfile
import time
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from stack import ROOT, Stack, delete_broker_objects, say

SAMPLE = ROOT / "tests" / "fixtures" / "public" / "shopify_orders_create_discounts_HKD.json"
SHOP = "ledgerbridge-demo.myshopify.com"
SECRET = "demo-secret"
VAT = Decimal("0.25")


def danish_order(
    order_id: int, number: int, email: str, first: str, last: str, lines: list[tuple[str, str, int, str]],
    *, company: str | None = None, cvr: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A Danish shop's order (DKK, prices incl. 25% VAT) in the shape of the public sample."""
    order = copy.deepcopy(json.loads(SAMPLE.read_bytes()))
    address = {
        "first_name": first, "last_name": last, "name": f"{first} {last}", "company": company,
        "address1": "Vesterbrogade 1", "address2": None, "city": "København V", "zip": "1620",
        "province": None, "country": "Denmark", "country_code": "DK", "phone": "+4512345678",
        "province_code": None, "latitude": None, "longitude": None,
    }  # fmt: skip
    items, subtotal, tax_total = [], Decimal(0), Decimal(0)
    for i, (sku, title, quantity, price) in enumerate(lines):
        gross = Decimal(price) * quantity
        tax = (gross - gross / (1 + VAT)).quantize(Decimal("0.01"))
        subtotal, tax_total = subtotal + gross, tax_total + tax
        item = copy.deepcopy(order["line_items"][0])
        item.update(
            id=order_id * 10 + i, sku=sku, title=title, name=title, quantity=quantity,
            price=price, discount_allocations=[], total_discount="0.00",
            tax_lines=[{"title": "Moms", "price": str(tax), "rate": 0.25, "channel_liable": False}],
        )  # fmt: skip
        items.append(item)
    shipping = Decimal("49.00")
    shipping_tax = (shipping - shipping / (1 + VAT)).quantize(Decimal("0.01"))
    total = subtotal + shipping
    order.update(
        id=order_id, name=f"#{number}", order_number=number, number=number - 1000,
        email=email, contact_email=email, currency="DKK", presentment_currency="DKK",
        taxes_included=True, total_price=str(total), subtotal_price=str(subtotal),
        total_line_items_price=str(subtotal), total_discounts="0.00", discount_codes=[],
        discount_applications=[], total_tax=str(tax_total + shipping_tax),
        financial_status="paid", line_items=items, billing_address=address,
        shipping_address=address, note_attributes=[{"name": "CVR", "value": cvr}] if cvr else [],
        updated_at="2025-03-01T10:00:05+01:00", created_at="2025-03-01T10:00:00+01:00",
    )  # fmt: skip
    order["customer"] = {
        **order["customer"], "id": order_id + 7, "email": email, "first_name": first,
        "last_name": last, "default_address": address,
    }  # fmt: skip
    order["shipping_lines"][0].update(
        title="PostNord", price=str(shipping), discounted_price=str(shipping),
        tax_lines=[{"title": "Moms", "price": str(shipping_tax), "rate": 0.25, "channel_liable": False}],
    )  # fmt: skip
    return order


def demo_orders() -> list[tuple[str, bytes]]:
    """(description, raw body). The sample goes as Shopify sent it, byte for byte."""
    return [
        ("public Shopify sample (HKD, discounts)", SAMPLE.read_bytes()),
        ("new consumer", _json(danish_order(
            7001, 1101, "karen@example.com", "Karen", "Jensen",
            [("TSHIRT-RED-M", "T-shirt red M", 2, "150.00")],
        ))),
        ("returning consumer", _json(danish_order(
            7002, 1102, "Karen@Example.com", "Karen", "Jensen", [("MUG-BLACK", "Mug black", 1, "75.00")],
        ))),
        ("company with CVR (B2B)", _json(danish_order(
            7003, 1103, "indkob@tojogco.dk", "Ole", "Hansen",
            [("TSHIRT-RED-M", "T-shirt red M", 10, "150.00"), ("MUG-BLACK", "Mug black", 4, "75.00")],
            company="Tøj & Co ApS", cvr="12345674",
        ))),
    ]  # fmt: skip


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _call(method: str, url: str, token: str | None = None, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def post_webhook(stack: Stack, body: bytes) -> dict[str, Any]:
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    status, answer = _call(
        "POST",
        f"{stack.url('ingest')}/webhooks/shopify/demo",
        body=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/paid",
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-API-Version": "2025-01",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
        },
    )
    if status != 200:
        raise SystemExit(f"ingest answered {status}: {answer}")
    return answer


def run_demo(stack: Stack) -> int:
    keys: list[tuple[str, str]] = []
    for description, body in demo_orders():
        answer = post_webhook(stack, body)
        keys.append((description, answer["order_key"]))
        say(f"posted {description}: {answer['order_key']}")

    orders: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(orders) < len(keys):
        for _, key in keys:
            _, order = _call("GET", f"{stack.url('ingest')}/orders/{key}", stack.admin_token)
            if order and order.get("status") in ("booked", "failed"):
                orders[key] = order
        time.sleep(0.3)

    _, state = _call("GET", f"{stack.url('sandbox')}/_sandbox/agreements/demo/state")
    booked_by_key: dict[str, list[dict[str, Any]]] = {}
    for invoice in state["booked_invoices"]:
        booked_by_key.setdefault(invoice.get("references", {}).get("other"), []).append(invoice)

    print()
    header = f"{'order':<8} {'what':<40} {'customer':>8} {'invoice':>8} {'total':>14}  status"
    print(header)
    print("-" * len(header))
    ok = True
    for description, key in keys:
        order = orders.get(key, {"status": "not finished", "order_name": key})
        invoices = booked_by_key.get(key, [])
        once = order["status"] == "booked" and len(invoices) == 1
        ok &= once
        total = f"{order.get('currency', '')} {order.get('total', '')}"
        status = order["status"] if once else f"{order['status']} ({len(invoices)} invoices!)"
        print(
            f"{order.get('order_name', ''):<8} {description:<40} "
            f"{order.get('customer_number') or '-':>8} {order.get('invoice_number') or '-':>8} "
            f"{total:>14}  {status}"
        )
        if order["status"] == "failed":
            print(f"         reason: {order.get('status_reason')}")
    print()
    print(f"customers in the ledger: {len(state['customers'])}; booked invoices: "
          f"{len(state['booked_invoices'])}; drafts left: {len(state['drafts'])}")  # fmt: skip
    say("every order booked exactly once" if ok else "NOT every order was booked exactly once")
    return 0 if ok else 1


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ledgerbridge-demo-") as tmp:
        stack = Stack.prepare(data_dir=Path(tmp), broker_prefix=f"demo-{uuid.uuid4().hex[:8]}")
        say(f"admin token for this run: {stack.admin_token}")
        stack.start()
        try:
            code = run_demo(stack)
        finally:
            stack.stop()
            delete_broker_objects(stack)  # the demo's queues are throwaway
    say(f"demo finished in {time.monotonic() - started:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
