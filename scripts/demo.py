"""`make demo`: start everything, connect a second shop to a second agreement and a Keap app,
post signed sample orders from both shops and make an order in Keap, wait until they are
booked, print what happened (one table, with the ledger each went to), stop everything. Exits 0
only if every order was booked exactly once, in its own connection's ledger.

Two connections: `demo` (shop ledgerbridge-demo, the environment's agreement `demo`) and
`nordic` (shop ledgerbridge-nordic, onboarded as an operator would: its agreement connected
through e-conomic's grant flow in the sandbox, the demo playing the browser, and the settings
proposed from that agreement applied).

A third connection, `keap`: a Keap app (the sandbox's Keap, REST hooks to this ingest; the
demo plays the Keap user who makes the order and Keap's hook delivery 30-60 s later). Its
ledger is KEAP_LEDGER: "quickbooks" connects a QuickBooks company through Intuit's consent in
the sandbox (ingest's consent URL, the demo playing the browser, as
tests/e2e/test_quickbooks_connect.py does), the default; "economic" books into the environment's
agreement. LEDGERBRIDGE_DEMO_KEAP_LEDGER overrides it.

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
import os
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
KEAP = "keap"
KEAP_APP = "demo1234.infusionsoft.com"  # the Keap app's name: the shop part of its order keys
KEAP_API_KEY = "demo-keap-service-account-key"  # the sandbox's Keap tenant is this key
KEAP_HOOK_TOKEN = "demo-keap-hook-token-0123456789abcdef"  # in the hook URL: 32+ characters
#: Where the Keap order is booked: a QuickBooks company (customers and invoicing book it through
#: the ledger port); LEDGERBRIDGE_DEMO_KEAP_LEDGER=economic books it into e-conomic instead.
KEAP_LEDGER = "quickbooks"
LEDGER_NAMES = {"economic": "e-conomic", "quickbooks": "QuickBooks"}


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


def keap_ledger() -> str:
    chosen = os.environ.get("LEDGERBRIDGE_DEMO_KEAP_LEDGER", KEAP_LEDGER)
    if chosen not in LEDGER_NAMES:
        raise SystemExit(f"LEDGERBRIDGE_DEMO_KEAP_LEDGER={chosen!r}: economic or quickbooks")
    return chosen


def _json_call(stack: Stack, method: str, url: str, body: Any = None, *, admin: bool = True):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    return _call(method, url, stack.admin_token if admin else None, data, headers)


def connect_keap(stack: Stack, ledger: str) -> str | None:
    """The `keap` connection: its Keap app (saving it subscribes Keap's hooks, the handshake
    coming back to this ingest) and its ledger. Returns the QuickBooks company's realm id."""
    ingest, sandbox = stack.url("ingest"), stack.url("sandbox")
    status, answer = _json_call(stack, "PUT", f"{ingest}/connections/{KEAP}", {
        "platform": "keap", "secrets": [KEAP_HOOK_TOKEN],
        "settings": {"shop_domain": KEAP_APP, "keap_deletions": True},
        "shop": {"admin_url": f"{sandbox}/keap/crm/rest", "admin_token": KEAP_API_KEY},
    })  # fmt: skip
    if status != 200:
        raise SystemExit(f"ingest refused the Keap connection: {status} {answer}")
    _, tenant = _call("GET", f"{sandbox}/_sandbox/keap/{KEAP_API_KEY}/state")
    hooks = sorted(f"{h['eventKey']} ({h['status']})" for h in tenant["hooks"])
    say(f"{KEAP}: Keap's REST hooks: {', '.join(hooks) or 'none'}")
    # Keap's refunds are amounts without lines: they are credited on this product (the PUT
    # replaces the settings, so the current ones go back with it).
    path = f"{stack.url('invoicing')}/connections/{KEAP}/settings"
    _, current = _call("GET", path, stack.admin_token)
    if ledger != "quickbooks":
        _json_call(stack, "PUT", path, {**current, "refund_product": "WEB-DEFAULT"})
        say(f"{KEAP}: books into the environment's e-conomic agreement")
        return None
    status, answer = _json_call(
        stack, "POST", f"{ingest}/connections/{KEAP}/quickbooks/connect",
        {"base_url": f"{sandbox}/quickbooks"},
    )  # fmt: skip
    if status != 200:
        raise SystemExit(f"no QuickBooks consent URL: {status} {answer}")
    say(f"{KEAP}: opening QuickBooks' consent URL and connecting a company")
    try:
        urllib.request.build_opener(_NoRedirect).open(answer["consent_url"], timeout=10)
        raise SystemExit("Intuit's consent page did not send the browser back")
    except urllib.error.HTTPError as exc:
        back = exc.headers["Location"]
    realm = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["realmId"][0]
    with urllib.request.urlopen(back, timeout=30) as landed:  # the browser, no admin token
        if landed.status != 200:
            raise SystemExit(f"ingest did not take QuickBooks' consent: {landed.status}")
    # The company's products, as a bookkeeper has them: the Keap order's SKUs, shipping, and
    # the product refunds by amount go on (the same SKUs as the e-conomic agreement's).
    inventory = {"Type": "Inventory", "IncomeAccountRef": {"value": "1"},
                 "AssetAccountRef": {"value": "2"}, "TrackQtyOnHand": True,
                 "InvStartDate": "2026-01-01"}  # fmt: skip
    service = {"Type": "Service", "IncomeAccountRef": {"value": "1"}}
    status, made = _json_call(
        stack, "POST", f"{sandbox}/_sandbox/quickbooks/companies/{realm}/Item", [
            {"Name": "T-shirt red M", "Sku": "TSHIRT-RED-M", "QtyOnHand": 50, **inventory},
            {"Name": "Mug black", "Sku": "MUG-BLACK", "QtyOnHand": 20, **inventory},
            {"Name": "Shipping", "Sku": "SHIPPING", **service},
            {"Name": "Web refunds", "Sku": "WEB-DEFAULT", **service},
        ], admin=False,
    )  # fmt: skip
    if status != 201:
        raise SystemExit(f"the sandbox's QuickBooks refused the items: {status} {made}")
    # The order's lines carry 25% tax (Keap's Tax line): QuickBooks charges it by each line's
    # tax code, the company's "25.0% S" (without one the invoice would hold the net only).
    _json_call(stack, "PUT", path, {
        **current, "refund_product": "WEB-DEFAULT", "ledger_options": {"tax_code": "2"},
    })  # fmt: skip
    say(f"{KEAP}: QuickBooks company {realm} connected, its {len(made['created'])} items made")
    return realm


def make_keap_order(stack: Stack) -> str:
    """What the Keap user does (a contact and a paid order), then Keap's hook delivery."""
    sandbox = f"{stack.url('sandbox')}/_sandbox/keap/{KEAP_API_KEY}"
    _, contact = _json_call(stack, "POST", f"{sandbox}/contacts", {
        "given_name": "Karen", "family_name": "Blixen",
        "email_addresses": [{"email": "karen.blixen@example.dk", "field": "EMAIL1"}],
        "addresses": [{"field": "BILLING", "line1": "Rungstedvej 111", "locality": "Rungsted",
                       "postal_code": "2960", "country_code": "DNK"}],
    }, admin=False)  # fmt: skip
    status, order = _json_call(stack, "PUT", f"{sandbox}/orders", {
        "contact_id": contact["id"], "status": "PAID",
        "order_items": [
            {"name": "T-shirt red M", "price": 120, "quantity": 2,
             "product": {"id": 1, "sku": "TSHIRT-RED-M"}},
            {"name": "Mug black", "price": 60, "quantity": 1,
             "product": {"id": 2, "sku": "MUG-BLACK"}},
            {"name": "Shipping", "type": "Shipping", "price": 40, "quantity": 1},
            {"name": "Moms", "type": "Tax", "price": 85, "quantity": 1},
        ],
    }, admin=False)  # fmt: skip
    if status != 200:
        raise SystemExit(f"the sandbox's Keap refused the order: {status} {order}")
    _, sent = _json_call(stack, "POST", f"{sandbox}/hooks/deliver", {}, admin=False)
    delivered = [s["event_key"] for s in sent["sent"] if s["outcome"] == "delivered"]
    say(
        f"{KEAP}: made Keap order {order['id']}; Keap delivered {', '.join(delivered) or 'nothing'}"
    )
    return f"keap:{KEAP_APP}:{order['id']}"


def quickbooks_invoices(stack: Stack, realm: str) -> dict[str, list[dict[str, Any]]]:
    """Order key → the QuickBooks company's invoices that carry it (in any field)."""
    _, state = _call("GET", f"{stack.url('sandbox')}/_sandbox/quickbooks/companies/{realm}/state")
    found: dict[str, list[dict[str, Any]]] = {}
    for invoice in (state or {}).get("entities", {}).get("Invoice", []):
        text = json.dumps(invoice)
        for key in set(_order_keys_in(text)):
            found.setdefault(key, []).append(invoice)
    return found


def _order_keys_in(text: str) -> list[str]:
    prefix = f"keap:{KEAP_APP}:"
    keys, start = [], text.find(prefix)
    while start >= 0:
        end = start + len(prefix)
        while end < len(text) and text[end].isdigit():
            end += 1
        keys.append(text[start:end])
        start = text.find(prefix, end)
    return keys


def run_demo(stack: Stack, ledger: str) -> int:
    grants = {"demo": "demo", NORDIC: connect_second_shop(stack)}
    realm = connect_keap(stack, ledger)
    keys: list[tuple[str, str, str]] = []
    for connection, description, body in demo_orders():
        answer = post_webhook(stack, connection, body)
        keys.append((connection, description, answer["order_key"]))
        say(f"posted {description} ({connection}): {answer['order_key']}")
    keys.append((KEAP, "Keap order (fetched after its hook)", make_keap_order(stack)))
    ledgers = {c: "economic" for c, _, _ in keys} | {KEAP: ledger}
    if ledger == "economic":
        grants[KEAP] = "demo"  # the environment's agreement, with `demo`

    orders: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(orders) < len(keys):
        for _, _, key in keys:
            _, order = _call("GET", f"{stack.url('ingest')}/orders/{key}", stack.admin_token)
            if order and order.get("status") in ("booked", "failed"):
                orders[key] = order
        time.sleep(0.3)

    # One state per agreement (demo and keap may share the environment's).
    agreements = {
        grant: _call("GET", f"{stack.url('sandbox')}/_sandbox/agreements/{grant}/state")[1]
        for grant in set(grants.values())
    }
    # Order key → (connection whose ledger holds it, invoice) for every booked invoice.
    booked_by_key: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for grant, state in agreements.items():
        holders = sorted(c for c, g in grants.items() if g == grant)
        for invoice in state["booked_invoices"]:
            reference = invoice.get("references", {}).get("other")
            # Which of the agreement's connections the order is of: its key says.
            owner = next((c for c, _, k in keys if k == reference and c in holders), holders[0])
            booked_by_key.setdefault(reference, []).append((owner, invoice))
    if realm is not None:
        for key, invoices in quickbooks_invoices(stack, realm).items():
            booked_by_key.setdefault(key, []).extend((KEAP, i) for i in invoices)

    print()
    header = (
        f"{'connection':<11} {'ledger':<10} {'order':<10} {'what':<38} {'customer':>8} "
        f"{'invoice':>8} {'total':>14}  status"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for connection, description, key in keys:
        order = orders.get(key) or _latest(stack, key)
        invoices = booked_by_key.get(key, [])
        # Booked once, and in its own connection's ledger.
        once = order["status"] == "booked" and [c for c, _ in invoices] == [connection]
        # A QuickBooks invoice holds what the shop charged (its tax too), not only the net.
        short = [
            i["TotalAmt"] for c, i in invoices
            if "TotalAmt" in i and Decimal(str(i["TotalAmt"])) != Decimal(order["total"])
        ]  # fmt: skip
        once &= not short
        ok &= once
        total = f"{order.get('currency', '')} {order.get('total', '')}"
        where = sorted({c for c, _ in invoices})
        if once:
            status = order["status"]
        elif short:
            status = f"{order['status']} (QuickBooks invoice total {short[0]}, not the order's!)"
        elif not invoices:
            status = f"NOT BOOKED ({order['status']})"
        else:
            status = f"{order['status']} ({len(invoices)} invoices, in {where or 'no ledger'}!)"
        print(
            f"{connection:<11} {LEDGER_NAMES[ledgers[connection]]:<10} "
            f"{order.get('order_name', ''):<10} {description:<38} "
            f"{order.get('customer_number') or '-':>8} {order.get('invoice_number') or '-':>8} "
            f"{total:>14}  {status}"
        )
        if order["status"] != "booked" and order.get("status_reason"):
            print(f"{'':<23}reason: {order.get('status_reason')}")
    print()
    for grant, state in agreements.items():
        # Each agreement on its own: exactly its connections' orders, each once, no other's.
        holders = sorted(c for c, g in grants.items() if g == grant)
        mine = sorted(k for c, _, k in keys if c in holders)
        held = sorted(i.get("references", {}).get("other") for i in state["booked_invoices"])
        alright = held == mine
        ok &= alright
        print(
            f"e-conomic agreement of {' and '.join(holders)}: {len(state['customers'])} "
            f"customers, {len(held)} booked invoices, {len(state['drafts'])} drafts left; "
            + (
                f"exactly the {len(mine)} orders of {' and '.join(holders)}, each once"
                if alright
                else f"NOT its own orders ({held} instead of {mine})"
            )
        )
    if realm is not None:
        held = sorted(quickbooks_invoices(stack, realm))
        mine = sorted(k for c, _, k in keys if c == KEAP)
        print(
            f"QuickBooks company {realm} of {KEAP}: {len(held)} invoices"
            + ("; exactly the Keap order, once" if held == mine else f" (not {mine})")
        )
    say(
        "every order booked exactly once, in its own connection's ledger"
        if ok
        else "NOT every order was booked exactly once in its own ledger"
    )
    return 0 if ok else 1


def _latest(stack: Stack, key: str) -> dict[str, Any]:
    status, order = _call("GET", f"{stack.url('ingest')}/orders/{key}", stack.admin_token)
    return order if status == 200 and order else {"status": "not received", "order_name": key}


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ledgerbridge-demo-") as tmp:
        stack = Stack.prepare(data_dir=Path(tmp), broker_prefix=f"demo-{uuid.uuid4().hex[:8]}")
        ledger = keap_ledger()
        # Only `demo` (and `keap` on e-conomic) books into the environment's agreement;
        # `nordic`'s orders wait for its own, `keap`'s on QuickBooks for its company.
        stack.env["LEDGERBRIDGE_ENVIRONMENT_CONNECTIONS"] = (
            f"demo,{KEAP}" if ledger == "economic" else "demo"
        )
        sandbox = stack.url("sandbox")
        # QuickBooks' sandbox, and one token store every service shares (tokens rotate).
        stack.env.setdefault(
            "LEDGERBRIDGE_QUICKBOOKS_TOKEN_DATABASE_URL",
            f"sqlite+aiosqlite:///{(Path(tmp) / 'quickbooks_tokens.db').resolve()}",
        )
        stack.env.setdefault(
            "LEDGERBRIDGE_QUICKBOOKS_AUTHORIZE_URL", f"{sandbox}/quickbooks/connect/oauth2"
        )
        stack.env.setdefault(
            "LEDGERBRIDGE_QUICKBOOKS_TOKEN_URL", f"{sandbox}/quickbooks/oauth2/v1/tokens/bearer"
        )
        stack.env.setdefault("LEDGERBRIDGE_QUICKBOOKS_API_URL", f"{sandbox}/quickbooks")
        say(
            f"admin token for this run: {stack.admin_token}; the Keap order goes to {LEDGER_NAMES[ledger]}"
        )
        stack.start()
        try:
            code = run_demo(stack, ledger)
        finally:
            stack.stop()
            delete_broker_objects(stack)  # the demo's queues are throwaway
    say(f"demo finished in {time.monotonic() - started:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
