"""`make demo`: start everything, connect a second shop to a second agreement, post signed
sample orders from both shops, wait until they are booked, print what happened, stop
everything. Exits 0 only if every order was booked exactly once, in its own shop's agreement.

Two connections: `demo` (shop ledgerbridge-demo, the environment's agreement `demo`) and
`nordic` (shop ledgerbridge-nordic, onboarded as an operator would: its agreement connected
through e-conomic's grant flow in the sandbox, the demo playing the browser, and the settings
proposed from that agreement applied).

The orders: the public Shopify sample (tests/fixtures/public, source named in its README), and
three made up from its shape: a Danish consumer who orders twice (the second time she is a
returning customer), and a Danish company with a CVR number (B2B); the nordic shop sells to two
more consumers.
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
import urllib.error
import urllib.parse
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from stack import ROOT, Stack, delete_broker_objects, say

SAMPLE = ROOT / "tests" / "fixtures" / "public" / "shopify_orders_create_discounts_HKD.json"
SHOP = "ledgerbridge-demo.myshopify.com"
SECRET = "demo-secret"
NORDIC = "nordic"
NORDIC_SHOP = "ledgerbridge-nordic.myshopify.com"
NORDIC_SECRET = "nordic-demo-secret"
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


def demo_orders() -> list[tuple[str, str, bytes]]:
    """(connection, description, raw body). The sample goes as Shopify sent it, byte for byte."""
    return [
        ("demo", "public Shopify sample (HKD, discounts)", SAMPLE.read_bytes()),
        ("demo", "new consumer", _json(danish_order(
            7001, 1101, "karen@example.com", "Karen", "Jensen",
            [("TSHIRT-RED-M", "T-shirt red M", 2, "150.00")],
        ))),
        ("demo", "returning consumer", _json(danish_order(
            7002, 1102, "Karen@Example.com", "Karen", "Jensen", [("MUG-BLACK", "Mug black", 1, "75.00")],
        ))),
        ("demo", "company with CVR (B2B)", _json(danish_order(
            7003, 1103, "indkob@tojogco.dk", "Ole", "Hansen",
            [("TSHIRT-RED-M", "T-shirt red M", 10, "150.00"), ("MUG-BLACK", "Mug black", 4, "75.00")],
            company="Tøj & Co ApS", cvr="12345674",
        ))),
        (NORDIC, "consumer of the second shop", _json(danish_order(
            8001, 2101, "sofie@example.com", "Sofie", "Berg", [("MUG-BLACK", "Mug black", 2, "75.00")],
        ))),
        (NORDIC, "second consumer of the second shop", _json(danish_order(
            8002, 2102, "anders@example.com", "Anders", "Lund",
            [("TSHIRT-RED-M", "T-shirt red M", 1, "150.00")],
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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the demo plays the browser and follows e-conomic's redirect itself


def connect_second_shop(stack: Stack) -> str:
    """Onboard `nordic` as an operator would; returns its agreement's grant token (which the
    demo, as the browser, saw on e-conomic's redirect) to look into the sandbox with."""
    ingest, token = stack.url("ingest"), stack.admin_token
    status, answer = _call(
        "PUT", f"{ingest}/connections/{NORDIC}", token,
        json.dumps({
            "platform": "shopify", "secrets": [NORDIC_SECRET],
            "settings": {"shop_domain": NORDIC_SHOP},
            "shop": {"admin_url": f"{stack.url('sandbox')}/shopify", "admin_token": "nordic-shop"},
        }).encode(), {"Content-Type": "application/json"},
    )  # fmt: skip
    if status != 200:
        raise SystemExit(f"ingest refused the connection: {status} {answer}")
    status, answer = _call(
        "POST", f"{ingest}/connections/{NORDIC}/economic/grant", token,
        json.dumps({"base_url": f"{stack.url('sandbox')}/economic"}).encode(),
        {"Content-Type": "application/json"},
    )  # fmt: skip
    if status != 200:
        raise SystemExit(f"no installation URL: {status} {answer}")
    url = answer["installation_url"]
    say(f"{NORDIC}: opening e-conomic's installation URL and adding the app")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    form = urllib.parse.urlencode(
        {"appPublicToken": query["appPublicToken"][0], "redirectUrl": query["redirectUrl"][0]}
    ).encode()
    try:
        urllib.request.build_opener(_NoRedirect).open(url.split("?")[0], data=form, timeout=10)
        raise SystemExit("e-conomic's page did not send the browser back")
    except urllib.error.HTTPError as exc:
        back = exc.headers["Location"]
    grant = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["token"][0]
    with urllib.request.urlopen(back, timeout=30) as landed:
        if landed.status != 200:
            raise SystemExit(f"ingest did not take the grant: {landed.status}")
    _, shown = _call("GET", f"{ingest}/connections/{NORDIC}", token)
    onboarding = shown["onboarding"]
    if not onboarding["proposal"]:
        raise SystemExit(f"no settings proposed: {onboarding['proposal_error']}")
    for choice in onboarding["proposal"]["choices"]:
        say(f"{NORDIC}: proposed {choice['service']}.{choice['setting']} = {choice['value']} "
            f"({choice['why']})")  # fmt: skip
    for service, partial in onboarding["proposal"]["settings"].items():
        path = f"{stack.url(service)}/connections/{NORDIC}/settings"
        _, current = _call("GET", path, token)
        for key, value in partial.items():
            current[key] = {**current[key], **value} if isinstance(value, dict) else value
        status, answer = _call(
            "PUT", path, token, json.dumps(current).encode(), {"Content-Type": "application/json"}
        )
        if status != 200:
            raise SystemExit(f"{service} refused the proposed settings: {answer}")
    _call("POST", f"{ingest}/connections/{NORDIC}/economic/proposal/confirm", token)
    say(f"{NORDIC}: agreement connected, proposed settings applied")
    hooks = onboarding["webhook_subscriptions"]
    failed = [h for h in hooks if h["state"] == "failed"]
    say(
        f"{NORDIC}: webhook subscriptions: {len(hooks) - len(failed)} made, {len(failed)} refused"
        + (
            f" ({failed[0]['detail']}: Shopify, and the sandbox, take https addresses only, "
            f"and LEDGERBRIDGE_INGEST_PUBLIC_URL is {stack.env['LEDGERBRIDGE_INGEST_PUBLIC_URL']} "
            "here)"
            if failed
            else ""
        )
    )
    return grant


def post_webhook(stack: Stack, connection: str, body: bytes) -> dict[str, Any]:
    secret, shop = (SECRET, SHOP) if connection == "demo" else (NORDIC_SECRET, NORDIC_SHOP)
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    status, answer = _call(
        "POST",
        f"{stack.url('ingest')}/webhooks/shopify/{connection}",
        body=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/paid",
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Shop-Domain": shop,
            "X-Shopify-API-Version": "2025-01",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
        },
    )
    if status != 200:
        raise SystemExit(f"ingest answered {status}: {answer}")
    return answer


def run_demo(stack: Stack) -> int:
    grants = {"demo": "demo", NORDIC: connect_second_shop(stack)}
    keys: list[tuple[str, str, str]] = []
    for connection, description, body in demo_orders():
        answer = post_webhook(stack, connection, body)
        keys.append((connection, description, answer["order_key"]))
        say(f"posted {description} ({connection}): {answer['order_key']}")

    orders: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(orders) < len(keys):
        for _, _, key in keys:
            _, order = _call("GET", f"{stack.url('ingest')}/orders/{key}", stack.admin_token)
            if order and order.get("status") in ("booked", "failed"):
                orders[key] = order
        time.sleep(0.3)

    states = {
        connection: _call("GET", f"{stack.url('sandbox')}/_sandbox/agreements/{grant}/state")[1]
        for connection, grant in grants.items()
    }
    # Order key → (connection whose agreement holds it, invoice) for every booked invoice.
    booked_by_key: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for connection, state in states.items():
        for invoice in state["booked_invoices"]:
            reference = invoice.get("references", {}).get("other")
            booked_by_key.setdefault(reference, []).append((connection, invoice))

    print()
    header = (
        f"{'connection':<11} {'order':<8} {'what':<38} {'customer':>8} {'invoice':>8} "
        f"{'total':>14}  status"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for connection, description, key in keys:
        order = orders.get(key, {"status": "not finished", "order_name": key})
        invoices = booked_by_key.get(key, [])
        # Booked once, and in its own shop's agreement.
        once = order["status"] == "booked" and [c for c, _ in invoices] == [connection]
        ok &= once
        total = f"{order.get('currency', '')} {order.get('total', '')}"
        where = sorted({c for c, _ in invoices})
        status = (
            order["status"]
            if once
            else f"{order['status']} ({len(invoices)} invoices, in {where or 'no agreement'}!)"
        )
        print(
            f"{connection:<11} {order.get('order_name', ''):<8} {description:<38} "
            f"{order.get('customer_number') or '-':>8} {order.get('invoice_number') or '-':>8} "
            f"{total:>14}  {status}"
        )
        if order["status"] == "failed":
            print(f"            reason: {order.get('status_reason')}")
    print()
    for connection, state in states.items():
        # Each agreement on its own: exactly its connection's orders, each once, no other's.
        mine = sorted(k for c, _, k in keys if c == connection)
        held = sorted(i.get("references", {}).get("other") for i in state["booked_invoices"])
        alright = held == mine
        ok &= alright
        print(
            f"agreement of {connection}: {len(state['customers'])} customers, "
            f"{len(held)} booked invoices, {len(state['drafts'])} drafts left; "
            + (
                f"exactly the {len(mine)} orders of {connection}, each once"
                if alright
                else f"NOT its own orders ({held} instead of {mine})"
            )
        )
    say(
        "every order booked exactly once, in its own shop's agreement"
        if ok
        else "NOT every order was booked exactly once in its own agreement"
    )
    return 0 if ok else 1


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ledgerbridge-demo-") as tmp:
        stack = Stack.prepare(data_dir=Path(tmp), broker_prefix=f"demo-{uuid.uuid4().hex[:8]}")
        # Only `demo` books into the environment's agreement; `nordic`'s orders wait for its own.
        stack.env["LEDGERBRIDGE_ENVIRONMENT_CONNECTIONS"] = "demo"
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
