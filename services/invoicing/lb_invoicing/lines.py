"""From a canonical order to invoice lines, net of VAT, and the totals the ledger must reach.

Amounts sent to e-conomic are net of VAT (`unitNetPrice`, at most two decimals); the ledger adds
VAT from the customer's VAT zone and the product. Rounding follows lb_common.money: half-up per
line, then document totals are compared with the shop's total within the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from lb_common.errors import PermanentError
from lb_common.money import ZERO, round_2
from lb_common.orders import CanonicalOrder
from lb_invoicing.policy import InvoiceSettings


@dataclass(frozen=True)
class PlannedLine:
    product_number: str
    description: str
    quantity: Decimal
    unit_net_price: Decimal
    sku: str | None  # the shop's SKU, kept for stock and purchase history

    @property
    def net_total(self) -> Decimal:
        return self.quantity * self.unit_net_price


@dataclass(frozen=True)
class InvoicePlan:
    lines: tuple[PlannedLine, ...]
    notes: tuple[str, ...] = field(default=())  # decisions worth a line on the timeline

    @property
    def net_total(self) -> Decimal:
        return sum((line.net_total for line in self.lines), ZERO)


def _net(amount: Decimal, discount: Decimal, tax: Decimal, taxes_included: bool) -> Decimal:
    after_discount = amount - discount
    return after_discount - tax if taxes_included else after_discount


def product_for(
    sku: str | None, title: str, settings: InvoiceSettings, known: frozenset[str]
) -> tuple[str, str | None]:
    """(product number, note) for an order line, or PermanentError saying what to fix."""
    if sku is None:
        if settings.missing_sku == "default_product" and settings.default_product:
            return settings.default_product, (
                f"Line '{title}' has no SKU: booked on default product {settings.default_product}."
            )
        raise PermanentError(
            f"Order line '{title}' has no SKU, so it cannot be matched to an e-conomic product. "
            "Give the product a SKU in the shop, or set a default product, then replay."
        )
    if sku in known:
        return sku, None
    if settings.unknown_product == "default_product" and settings.default_product:
        return settings.default_product, (
            f"SKU '{sku}' is not a product in e-conomic: booked on default product "
            f"{settings.default_product}."
        )
    raise PermanentError(
        f"SKU '{sku}' (order line '{title}') is not a product in e-conomic. Create product "
        f"'{sku}' in e-conomic, or set a default product for unknown SKUs, then replay."
    )


def plan_invoice(
    order: CanonicalOrder, settings: InvoiceSettings, known_products: frozenset[str]
) -> InvoicePlan:
    lines: list[PlannedLine] = []
    notes: list[str] = []
    for line in order.lines:
        if line.quantity <= 0:
            continue  # removed by an order edit
        product, note = product_for(line.sku, line.title, settings, known_products)
        if note:
            notes.append(note)
        net = _net(line.unit_price * line.quantity, line.discount, line.tax, order.taxes_included)
        lines.append(
            PlannedLine(
                product_number=product,
                description=line.title[:2500],
                quantity=line.quantity,
                unit_net_price=round_2(net / line.quantity),
                sku=line.sku,
            )
        )
    for shipping in order.shipping_lines:
        net = _net(shipping.price, shipping.discount, shipping.tax, order.taxes_included)
        if net == 0 and shipping.price == 0:
            continue
        if settings.shipping_product not in known_products:
            raise PermanentError(
                f"The shipping product '{settings.shipping_product}' is not in e-conomic. Create it, "
                "or choose another shipping product in the invoicing settings, then replay."
            )
        lines.append(
            PlannedLine(
                product_number=settings.shipping_product,
                description=shipping.title[:2500] or "Shipping",
                quantity=Decimal(1),
                unit_net_price=round_2(net),
                sku=None,
            )
        )
    if not lines:
        raise PermanentError("The order has no lines to invoice.")
    return InvoicePlan(tuple(lines), tuple(notes))


def products_needed(order: CanonicalOrder, settings: InvoiceSettings) -> frozenset[str]:
    """Product numbers to look up in the ledger before planning."""
    needed = {line.sku for line in order.lines if line.sku}
    if order.shipping_lines:
        needed.add(settings.shipping_product)
    if settings.default_product:
        needed.add(settings.default_product)
    return frozenset(needed)
