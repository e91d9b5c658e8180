"""From a canonical order to invoice lines, net of VAT, and the totals the ledger must reach.

Amounts sent to e-conomic are net of VAT (`unitNetPrice`, at most two decimals); the ledger adds
VAT from the customer's VAT zone and the product. Rounding follows lb_common.money: half-up per
line, then document totals are compared with the shop's total within the tolerance.

How a line becomes invoice lines (plan_invoice, with lb_common.money.fit_ledger_nets):

- the shop's net for the line is unit price × quantity − the discount the platform allocated to
  it (− the line's VAT when prices include VAT);
- it is rounded half-up to 2 decimals and split exactly (money.split_exact): 100.00 for 3 units is
  2 × 33.33 + 1 × 33.34 on two lines of the same product, so quantities stay right for stock;
- e-conomic computes VAT per line and rounds it; where that rounding would make its total miss
  the shop's, a line's net moves by a cent or two (half a unit for VND/JPY), and the plan says so
  in its notes.

Whether the ledger's draft then reaches the shop's total and VAT is totals_check.py's question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from lb_common.errors import PermanentError
from lb_common.money import (
    ZERO,
    LineTarget,
    fit_ledger_nets,
    ledger_line_net,
    shop_line_amount,
)
from lb_common.orders import CanonicalOrder, OrderLine, ShippingLine
from lb_invoicing.policy import InvoiceSettings


@dataclass(frozen=True)
class PlannedLine:
    product_number: str
    description: str
    quantity: Decimal
    unit_net_price: Decimal
    sku: str | None  # the shop's SKU, kept for stock and purchase history
    source_line_id: str | None = None  # the order line (or shipping line) it comes from
    vat_rate: Decimal | None = None  # the rate the plan expects the ledger to apply; None: unknown

    @property
    def net_total(self) -> Decimal:
        """The line's net as e-conomic computes it (quantity × unitNetPrice)."""
        return ledger_line_net(self.quantity, self.unit_net_price)


@dataclass(frozen=True)
class InvoicePlan:
    lines: tuple[PlannedLine, ...]
    notes: tuple[str, ...] = field(default=())  # decisions worth a line on the timeline

    @property
    def net_total(self) -> Decimal:
        return sum((line.net_total for line in self.lines), ZERO)


# The VAT rate of an order line or shipping line; None when it is not known.
VatRateFor = Callable[[OrderLine | ShippingLine], Decimal | None]


def shop_vat_rate(line: OrderLine | ShippingLine) -> Decimal | None:
    """The rate the shop charged: its tax rate, 0 for an untaxed line, None when unknown (no
    rate given but VAT charged, or several rates on one line)."""
    if line.tax_rate is not None:
        return line.tax_rate
    return ZERO if line.tax == 0 else None


def net_after_discount(
    amount: Decimal, discount: Decimal, tax: Decimal, taxes_included: bool
) -> Decimal:
    after_discount = amount - discount
    return after_discount - tax if taxes_included else after_discount


def _discount_parts(
    discount: Decimal, rate: Decimal | None, taxes_included: bool
) -> tuple[Decimal, Decimal]:
    """(net, VAT) of a discount as the shop gave it (incl. VAT when prices include VAT)."""
    if rate is None or rate == 0:
        return discount, ZERO
    if taxes_included:
        net = discount / (1 + rate)
        return net, discount - net
    return discount, discount * rate


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


@dataclass(frozen=True)
class _Source:
    line_id: str
    product: str
    description: str
    sku: str | None
    rate: Decimal | None
    target: LineTarget


def plan_invoice(
    order: CanonicalOrder,
    settings: InvoiceSettings,
    known_products: frozenset[str],
    *,
    vat_rate_for: VatRateFor | None = None,
) -> InvoicePlan:
    """Invoice lines for `order`, net of VAT, with unit prices at 2 decimals.

    Contract: every planned unit_net_price has at most 2 decimals; each order line's quantity is
    kept (a line may become two lines of the same product, see money.split_exact); with the VAT
    rates `vat_rate_for` gives (default: the shop's own, shop_vat_rate), net + the VAT e-conomic
    computes per line comes within `settings.tolerance` of the shop's lines (net + VAT), and the
    VAT within money.vat_tolerance of the shop's, whenever the shop's figures allow it
    (money.fit_ledger_nets). Each planned line names its source line and assumed rate.
    """
    rate_for = vat_rate_for or shop_vat_rate
    sources: list[_Source] = []
    notes: list[str] = []
    discounts: dict[Decimal | None, tuple[Decimal, Decimal]] = {}  # rate → (net, VAT)
    for line in order.lines:
        if line.quantity <= 0:
            continue  # removed by an order edit
        if line.gift_card and settings.gift_card_product:
            # A gift card sold is a liability, not revenue: it goes on its own product/account.
            product, note = settings.gift_card_product, None
        elif line.kind == "fee" and settings.fee_product:
            product, note = settings.fee_product, None
        else:
            product, note = product_for(line.sku, line.title, settings, known_products)
        if note:
            notes.append(note)
        amount = shop_line_amount(line.unit_price, line.quantity, order.currency)
        net = net_after_discount(amount, line.discount, line.tax, order.taxes_included)
        vat = line.tax
        rate = rate_for(line)
        if settings.discount_product and line.discount:
            # The line at its full price, its discount moved to the discount lines below.
            discount_net, discount_vat = _discount_parts(line.discount, rate, order.taxes_included)
            net, vat = net + discount_net, vat + discount_vat
            so_far_net, so_far_vat = discounts.get(rate, (ZERO, ZERO))
            discounts[rate] = (so_far_net + discount_net, so_far_vat + discount_vat)
        sources.append(
            _Source(
                line.line_id,
                product,
                line.title[:2500],
                line.sku,
                rate,
                LineTarget(net=net, vat=vat, quantity=line.quantity, rate=rate),
            )
        )
    for shipping in order.shipping_lines:
        net = net_after_discount(
            shipping.price, shipping.discount, shipping.tax, order.taxes_included
        )
        if net == 0 and shipping.price == 0:
            continue
        if settings.shipping_product not in known_products:
            raise PermanentError(
                f"The shipping product '{settings.shipping_product}' is not in e-conomic. Create it, "
                "or choose another shipping product in the invoicing settings, then replay."
            )
        rate = rate_for(shipping)
        sources.append(
            _Source(
                shipping.line_id,
                settings.shipping_product,
                shipping.title[:2500] or "Shipping",
                None,
                rate,
                LineTarget(net=net, vat=shipping.tax, quantity=Decimal(1), rate=rate),
            )
        )
    for rate, (discount_net, discount_vat) in discounts.items():
        assert settings.discount_product is not None
        if settings.discount_product not in known_products:
            raise PermanentError(
                f"The discount product '{settings.discount_product}' is not in e-conomic. Create "
                "it, or choose another discount product in the invoicing settings, then replay."
            )
        label = f" ({rate * 100:g}% VAT)" if len(discounts) > 1 and rate is not None else ""
        sources.append(
            _Source(
                f"discount:{rate}",
                settings.discount_product,
                f"Discount{label}",
                None,
                rate,
                LineTarget(net=-discount_net, vat=-discount_vat, quantity=Decimal(1), rate=rate),
            )
        )
    if not sources:
        raise PermanentError("The order has no lines to invoice.")

    fitted = fit_ledger_nets(
        [s.target for s in sources], order.currency, total_tolerance=settings.tolerance
    )
    lines: list[PlannedLine] = []
    for source, ledger in zip(sources, fitted, strict=True):
        lines.extend(
            PlannedLine(
                product_number=source.product,
                description=source.description,
                quantity=quantity,
                unit_net_price=unit,
                sku=source.sku,
                source_line_id=source.line_id,
                vat_rate=source.rate,
            )
            for quantity, unit in ledger.parts
        )
        name = f"Line '{source.description[:80]}'"
        if len(ledger.parts) > 1:
            split = " + ".join(f"{q} × {u}" for q, u in ledger.parts)
            notes.append(
                f"{name}: {ledger.net} for {source.target.quantity} units has no unit price at "
                f"2 decimals; invoiced as {split} so the line total is exact."
            )
        if ledger.moved:
            notes.append(
                f"{name}: net {ledger.net - ledger.moved} invoiced as {ledger.net} "
                f"({ledger.moved:+}) so that e-conomic's VAT rounding reaches the shop's total."
            )
    if settings.lines == "one_total":
        lines = one_total_line(order, lines, settings, known_products)
    return InvoicePlan(tuple(lines), tuple(notes))


def one_total_line(
    order: CanonicalOrder,
    lines: list[PlannedLine],
    settings: InvoiceSettings,
    known_products: frozenset[str],
) -> list[PlannedLine]:
    """The whole order as one line on the total product (one line per VAT rate, since one
    product carries one VAT treatment in the ledger). Line nets are exact at 2 decimals, so
    their sum is too."""
    product = settings.total_product
    if product is None or product not in known_products:
        raise PermanentError(
            f"The invoicing settings book orders as one total line, but the total product "
            f"'{product}' is not in e-conomic. Create it or choose another, then replay."
        )
    by_rate: dict[Decimal | None, Decimal] = {}
    for line in lines:
        by_rate[line.vat_rate] = by_rate.get(line.vat_rate, ZERO) + line.net_total
    rates = sorted(by_rate, key=lambda r: (r is None, r or ZERO))
    return [
        PlannedLine(
            product_number=product,
            description=f"Webshop order {order.order_name}"
            + (f" ({rate * 100:g}% VAT)" if len(rates) > 1 and rate is not None else ""),
            quantity=Decimal(1),
            unit_net_price=by_rate[rate],
            sku=None,
            vat_rate=rate,
        )
        for rate in rates
    ]


def products_needed(order: CanonicalOrder, settings: InvoiceSettings) -> frozenset[str]:
    """Product numbers to look up in the ledger before planning."""
    needed = {line.sku for line in order.lines if line.sku}
    if order.shipping_lines:
        needed.add(settings.shipping_product)
    for configured in (
        settings.default_product,
        settings.total_product,
        settings.gift_card_product,
        settings.fee_product,
        settings.discount_product,
    ):
        if configured:
            needed.add(configured)
    return frozenset(needed)
