"""In-memory Keap tenants. Each distinct API key (X-Keap-API-Key: a personal access token or a
service account key) or OAuth access token (Authorization: Bearer) is one isolated tenant.

Handlers mutate state without awaiting in between, so each request runs atomically on the loop
(hook deliveries await the subscriber, and re-read the hook after).
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

Entity = dict[str, Any]
HookStatus = Literal["Verified", "Unverified", "Inactive"]
Credential = Literal["api_key", "oauth"]

#: The event keys GET /v1/hooks/event_keys lists (Keap: read them per tenant; order.edit and
#: order.delete appear in third-party lists only, and the sandbox offers them).
EVENT_KEYS = (
    "contact.add",
    "contact.delete",
    "contact.edit",
    "contactGroup.applied",
    "contactGroup.delete",
    "invoice.add",
    "invoice.delete",
    "invoice.payment.add",
    "order.add",
    "order.delete",
    "order.edit",
)
#: Failed attempts after which a hook goes Inactive (Keap: 4 tries in about 36 minutes).
ATTEMPTS = 4


def keap_date(at: datetime | None = None) -> str:
    """Keap's v1 timestamp format, e.g. 2026-11-28T15:04:05.000+0000."""
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def hook_timestamp(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Pending:
    """An event waiting to be delivered to one hook: the objects, and how often it failed."""

    event_key: str
    object_type: str
    objects: list[Entity]
    failures: int = 0


@dataclass
class Tenant:
    key: str
    contacts: dict[int, Entity] = field(default_factory=dict)
    orders: dict[int, Entity] = field(default_factory=dict)
    hooks: dict[str, Entity] = field(default_factory=dict)
    # hook key → events not yet delivered to it, oldest first
    pending: dict[str, list[Pending]] = field(default_factory=dict)
    # Every delivery attempt, for tests: {hook, event_key, status, objects, outcome}
    deliveries: list[Entity] = field(default_factory=list)
    handshakes: list[Entity] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(101))
    hook_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    currency_code: str = "USD"
    # Calls counted per minute window and per UTC day (quota.py).
    minute: tuple[int, int] = (0, 0)  # (minute number, calls)
    day: tuple[str, int] = ("", 0)  # (UTC date, calls)

    def next_id(self) -> int:
        return next(self.ids)

    # --- records -----------------------------------------------------------------------------

    def add_contact(self, seed: Entity) -> Entity:
        contact_id = self.next_id()
        stamp = keap_date()
        contact: Entity = {
            "id": contact_id,
            "given_name": seed.get("given_name"),
            "family_name": seed.get("family_name"),
            "email_addresses": seed.get("email_addresses") or [],
            "phone_numbers": seed.get("phone_numbers") or [],
            "addresses": seed.get("addresses") or [],
            "company": seed.get("company"),
            "date_created": stamp,
            "last_updated": stamp,
        }
        self.contacts[contact_id] = contact
        self.emit("contact.add", "contact", [contact_id])
        return contact

    def put_order(self, seed: Entity) -> Entity:
        """Create an order (or replace one by id, as an edit in Keap's UI would): Keap's v1 Order
        fields, totals computed from the items as Keap does."""
        contact = self.contacts.get(int(seed["contact_id"]))
        if contact is None:
            raise KeyError(f"contact {seed['contact_id']} does not exist")
        order_id = int(seed.get("id") or self.next_id())
        existing = self.orders.get(order_id)
        items = []
        for index, item in enumerate(seed.get("order_items") or [], start=1):
            items.append(
                {
                    "id": order_id * 100 + index,
                    "name": item.get("name"),
                    "description": item.get("description"),
                    "type": item.get("type", "Product"),
                    "notes": None,
                    "quantity": item.get("quantity", 1),
                    "price": item["price"],
                    "cost": item.get("cost", 0),
                    "discount": item.get("discount", 0),
                    "product": item.get("product"),
                }
            )
        total = sum(
            (_number(i["price"]) * _number(i["quantity"]) - _number(i["discount"]) for i in items),
            Decimal(0),
        )
        paid = seed.get("total_paid")
        total_paid = (
            _number(paid)
            if paid is not None
            else total
            if seed.get("status") == "PAID"
            else Decimal(0)
        )
        now = keap_date()
        email = next((e["email"] for e in contact["email_addresses"] if e.get("email")), None)
        order: Entity = {
            "id": order_id,
            "title": seed.get("title") or f"Order #{order_id}",
            "status": seed.get("status", "SENT"),
            "recurring": False,
            "total": _json_number(total),
            "total_paid": _json_number(total_paid),
            "total_due": _json_number(total - total_paid),
            "refund_total": seed.get("refund_total", 0),
            "contact": {
                "id": contact["id"],
                "email": email,
                "first_name": contact["given_name"],
                "last_name": contact["family_name"],
                "company_name": (contact.get("company") or {}).get("company_name"),
                "job_title": None,
            },
            "notes": seed.get("notes"),
            "terms": None,
            "source_type": "API",
            "creation_date": existing["creation_date"] if existing else now,
            "modification_date": now,
            "order_date": seed.get("order_date") or (existing["order_date"] if existing else now),
            "lead_affiliate_id": 0,
            "sales_affiliate_id": 0,
            "shipping_information": seed.get("shipping_information"),
            "order_items": items,
            "invoice_number": existing["invoice_number"] if existing else order_id,
        }
        self.orders[order_id] = order
        self.emit("order.edit" if existing else "order.add", "order", [order_id])
        return order

    def refund_order(self, order_id: int, amount: Any) -> Entity:
        """A refund made in Keap's UI: the order's refund_total grows (Keap's v1 order carries
        no refund ids or lines) and its modification_date moves. Keap's docs name no refund
        hook; the sandbox queues order.edit, and reconciliation (orders?since= by
        modification_date) finds it where a tenant sends none."""
        order = self.orders.get(order_id)
        if order is None:
            raise KeyError(f"order {order_id} does not exist")
        refund = _number(amount)
        if refund <= 0:
            raise ValueError("amount must be more than 0")
        refunded = _number(order["refund_total"]) + refund
        if refunded > _number(order["total_paid"]):
            raise ValueError(
                f"a refund of {refund} would refund {refunded}, more than the "
                f"{order['total_paid']} paid"
            )
        order["refund_total"] = _json_number(refunded)
        order["modification_date"] = keap_date()
        self.emit("order.edit", "order", [order_id])
        return order

    def delete_order(self, order_id: int) -> None:
        """DELETE /v1/orders/{id}: gone from the API, and both delete events are queued (a Keap
        order is its invoice: invoice.delete is the documented key, order.delete the other)."""
        if self.orders.pop(order_id, None) is None:
            raise KeyError(f"order {order_id} does not exist")
        self.emit("order.delete", "order", [order_id])
        self.emit("invoice.delete", "invoice", [order_id])

    # --- hooks -------------------------------------------------------------------------------

    def add_hook(self, event_key: str, hook_url: str) -> Entity:
        hook = {
            "key": str(next(self.hook_ids)),
            "eventKey": event_key,
            "hookUrl": hook_url,
            "status": "Unverified",
        }
        self.hooks[hook["key"]] = hook
        return hook

    def emit(self, event_key: str, object_type: str, ids: list[int]) -> None:
        """Queue an event for every Verified hook of that key (what Keap sends 30-60 s later:
        the sandbox sends it when asked, POST /_sandbox/keap/{key}/hooks/deliver)."""
        stamp = hook_timestamp()
        objects = [{"id": i, "timestamp": stamp} for i in ids]
        for hook in self.hooks.values():
            if hook["eventKey"] == event_key and hook["status"] == "Verified":
                self.pending.setdefault(hook["key"], []).append(
                    Pending(event_key, object_type, [dict(o) for o in objects])
                )

    def snapshot(self) -> Entity:
        return {
            "hooks": list(self.hooks.values()),
            "pending": {
                key: [{"event_key": p.event_key, "failures": p.failures} for p in events]
                for key, events in self.pending.items()
                if events
            },
            "deliveries": self.deliveries,
            "handshakes": self.handshakes,
            "orders": len(self.orders),
            "contacts": len(self.contacts),
            "calls_this_minute": self.minute[1],
            "calls_today": self.day[1],
        }


def _number(value: Any) -> Decimal:
    return Decimal(str(value))


def _json_number(value: Decimal) -> float:
    # Keap's v1 sends money as JSON numbers (doubles): computed exactly, sent as Keap sends it.
    return float(value.quantize(Decimal("0.01")))


def new_hook_secret() -> str:
    return secrets.token_urlsafe(24)


class KeapRegistry:
    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        # OAuth access tokens the sandbox issued → the tenant's key (POST /_sandbox/keap/...)
        self.access_tokens: dict[str, str] = {}

    def get_or_create(self, key: str) -> Tenant:
        tenant = self.tenants.get(key)
        if tenant is None:
            tenant = self.tenants[key] = Tenant(key)
        return tenant
