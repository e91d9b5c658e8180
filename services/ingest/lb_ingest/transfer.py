"""When an order goes on to the ledger: the connection's trigger, skips and test orders.

Plain functions over plain data; the webhook use case and replay call them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from lb_common.orders import CanonicalOrder
from lb_ingest.order_status import CANCELLED, SKIPPED, TRANSFERRED, WAITING

Trigger = Literal["created", "paid", "fulfilled"]

_PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})


class TransferSettings(BaseModel):
    """The part of a connection's settings that decides when an order is transferred."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trigger: Trigger = "paid"
    # Per payment gateway, e.g. {"Cash on Delivery (COD)": "fulfilled"}; names match case-insensitively.
    gateway_triggers: dict[str, Trigger] = {}
    skip_test_orders: bool = True
    excluded_gateways: tuple[str, ...] = ()
    excluded_sources: tuple[str, ...] = ()  # e.g. "pos"


@dataclass(frozen=True)
class Decision:
    transfer: bool
    status: str
    reason: str


def effective_trigger(order: CanonicalOrder, settings: TransferSettings) -> Trigger:
    overrides = {k.casefold(): v for k, v in settings.gateway_triggers.items()}
    for gateway in order.payment_gateways:
        if gateway.casefold() in overrides:
            return overrides[gateway.casefold()]
    return settings.trigger


def trigger_met(order: CanonicalOrder, trigger: Trigger) -> bool:
    if trigger == "created":
        return True
    if trigger == "paid":
        return order.financial_status in _PAID_STATUSES
    return order.fulfillment_status == "fulfilled"


def decide(order: CanonicalOrder, settings: TransferSettings) -> Decision:
    """What to do with the newest version of an order that has not been transferred yet."""
    if order.cancelled_at is not None:
        return Decision(
            False, CANCELLED, "Cancelled before it was transferred: no invoice is made."
        )
    if order.test and settings.skip_test_orders:
        return Decision(False, SKIPPED, "Test order: skipped (the connection skips test orders).")
    excluded = {g.casefold() for g in settings.excluded_gateways}
    for gateway in order.payment_gateways:
        if gateway.casefold() in excluded:
            return Decision(False, SKIPPED, f"Payment gateway {gateway!r} is excluded.")
    if order.source_name and order.source_name.casefold() in {
        s.casefold() for s in settings.excluded_sources
    }:
        return Decision(False, SKIPPED, f"Sales channel {order.source_name!r} is excluded.")
    trigger = effective_trigger(order, settings)
    if trigger_met(order, trigger):
        return Decision(
            True, TRANSFERRED, f"Transfer trigger '{trigger}' met: sent on to the ledger."
        )
    return Decision(
        False,
        WAITING,
        f"Waiting for the transfer trigger '{trigger}' "
        f"(financial status {order.financial_status}, fulfilment {order.fulfillment_status or 'none'}).",
    )
