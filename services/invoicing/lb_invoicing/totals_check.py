"""Whether the ledger's draft reaches what the shop charged: the invoice's one VAT and total
check, made before booking (in a ledger with drafts; `DraftTotals` is the draft's figures).

- `check_against_shop`: the ledger's gross and VAT for the draft (its own answer, never a
  cached figure) against the shop's total and VAT. Beyond the tolerance the order stops and the
  draft is left for a bookkeeper, with both figures and, when the plan is at hand, where they
  part line by line (at the ledger's own rates when it can say them: `Ledger.item_tax_rates`).
- `compare_plan_with_shop`: the explanation, line by line: each shop line (net, VAT) beside the
  planned lines made from it and the VAT the ledger computes on them at given rates. The
  property tests hold plan_invoice to its contract with it (tests/unit/test_money_properties.py).
- `expected_ledger_totals`: what the ledger will compute for a plan.

VAT is computed per line by the ledger, net × rate rounded half-up to 2 decimals, then summed
(lb_common.money, "Amounts for the ledger"); the VAT may miss the shop's by money.vat_tolerance
(0.01, or the shop's own rounding for VND/JPY), the gross by the connection's `tolerance`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from lb_common.errors import PermanentError
from lb_common.money import CENT, ZERO, MoneyError, ledger_vat, shop_line_amount, vat_tolerance
from lb_common.orders import CanonicalOrder
from lb_connectors.ledger import ItemTaxRate
from lb_invoicing.lines import InvoicePlan, PlannedLine, net_after_discount

# The VAT rate the ledger applies to a planned line; None when it is not known.
LedgerRateFor = Callable[[PlannedLine], Decimal | None]


def planned_vat_rate(line: PlannedLine) -> Decimal | None:
    """The rate plan_invoice assumed for the line (the shop's, unless told otherwise)."""
    return line.vat_rate


# --- The check before booking -------------------------------------------------------------------


@dataclass(frozen=True)
class DraftTotals:
    """A draft's figures as the ledger computed them (None: the ledger gave none), and the
    ledger's name for people ("e-conomic")."""

    number: str
    gross: Decimal | None
    vat: Decimal | None
    ledger: str


def check_against_shop(
    order: CanonicalOrder,
    draft: DraftTotals,
    *,
    tolerance: Decimal,
    plan: InvoicePlan | None = None,
    ledger_rates: Mapping[str, ItemTaxRate] | None = None,
) -> None:
    """PermanentError (the draft left unbooked) when the ledger's gross for the draft differs
    from the shop's total by more than `tolerance`, or its VAT from the shop's by more than
    money.vat_tolerance; the reason gives both figures, and with `plan` (what this attempt sent)
    the lines where the shop's figures and the planned ones part: at the rates the ledger
    applies when `ledger_rates` (product → how the ledger taxes it) is given, with why for each
    differing rate. A draft without totals (the ledger gave none) is not judged here."""
    problems = _totals_problems(order, draft, tolerance)
    if not problems:
        return
    problems.append(
        f"Draft invoice {draft.number} is left unbooked for a bookkeeper to check: "
        "the customer's VAT zone, the products' VAT accounts, prices and discounts."
    )
    if plan is not None:
        if ledger_rates:
            problems.append(
                _where_the_ledger_parts(order, plan, ledger_rates, tolerance, draft.ledger)
            )
        else:
            problems.append(_where_they_part(order, plan, draft, tolerance))
    raise PermanentError(" ".join(p for p in problems if p))


def totals_differ(order: CanonicalOrder, draft: DraftTotals, *, tolerance: Decimal) -> bool:
    """Whether check_against_shop will refuse the draft."""
    return bool(_totals_problems(order, draft, tolerance))


def _totals_problems(order: CanonicalOrder, draft: DraftTotals, tolerance: Decimal) -> list[str]:
    c = order.currency
    problems: list[str] = []
    gross = draft.gross
    if gross is not None and abs(gross - order.total_price) > tolerance:
        problems.append(
            f"The invoice total in {draft.ledger} ({c} {gross}) differs from the shop's total "
            f"({c} {order.total_price}) by {abs(gross - order.total_price)}."
        )
    vat = draft.vat
    if vat is not None:
        taxed = sum(1 for line in order.lines if line.tax) + sum(
            1 for line in order.shipping_lines if line.tax
        )
        allowed = vat_tolerance(c, max(taxed, 1), tolerance)
        if abs(vat - order.total_tax) > allowed:
            problems.append(
                f"The VAT in {draft.ledger} ({c} {vat}) differs from the VAT the shop charged "
                f"({c} {order.total_tax}) by {abs(vat - order.total_tax)}, more than the "
                f"{allowed} allowed."
            )
    return problems


def _where_the_ledger_parts(
    order: CanonicalOrder,
    plan: InvoicePlan,
    ledger_rates: Mapping[str, ItemTaxRate],
    tolerance: Decimal,
    ledger: str,
) -> str:
    """Line by line at the rates the ledger applies, and why for each rate that is not the
    shop's."""

    def rate_of(line: PlannedLine) -> Decimal | None:
        known = ledger_rates.get(line.product_number)
        return known.rate if known is not None else None

    try:
        compared = compare_plan_with_shop(order, plan, rate_of, tolerance=tolerance, ledger=ledger)
    except MoneyError:
        return ""
    why = []
    for product in dict.fromkeys(
        line.product_number for line in plan.lines if rate_of(line) != line.vat_rate
    ):
        if (known := ledger_rates.get(product)) is not None:
            why.append(known.explanation)
    lines = " ".join(compared.line_differences) or "No line differs in VAT."
    because = f" In {ledger} {'; '.join(why)}." if why else ""
    return f"Line by line, the shop's VAT beside {ledger}'s: {lines}{because}"


def _where_they_part(
    order: CanonicalOrder, plan: InvoicePlan, draft: DraftTotals, tolerance: Decimal
) -> str:
    """The plan at the shop's VAT rates against the shop, and against what the ledger made."""
    c = order.currency
    try:
        planned = compare_plan_with_shop(
            order, plan, planned_vat_rate, tolerance=tolerance, ledger=draft.ledger
        )
    except MoneyError:
        return ""
    lines = " ".join(planned.line_differences)
    at_shop_rates = (
        f"At the shop's VAT rates the invoice lines come to {c} {planned.ledger_vat} VAT and "
        f"{c} {planned.ledger_total} in all"
    )
    if planned.ok and (draft.vat, draft.gross) != (planned.ledger_vat, planned.ledger_total):
        return (
            f"{at_shop_rates}, as the shop charged: {draft.ledger} applied other VAT rates than "
            f"the shop ({c} {draft.vat} VAT). {lines}"
        ).strip()
    return f"{at_shop_rates}. Line by line: {lines or 'no line differs in VAT.'}"


# --- What the ledger will compute, and how it compares with the shop ---------------------------


def _rates(
    plan: InvoicePlan, vat_rates: Sequence[Decimal | None] | LedgerRateFor
) -> list[Decimal | None]:
    if callable(vat_rates):
        return [vat_rates(line) for line in plan.lines]
    rates = list(vat_rates)
    if len(rates) != len(plan.lines):
        raise ValueError(f"{len(rates)} VAT rates for {len(plan.lines)} planned lines")
    return rates


def expected_ledger_totals(
    plan: InvoicePlan, vat_rates: Sequence[Decimal | None] | LedgerRateFor
) -> tuple[Decimal, Decimal, Decimal]:
    """(net, VAT, gross) as the ledger will compute them for `plan`.

    `vat_rates`: one rate per planned line (0.25 for 25 %), or a function of the planned line.
    VAT is computed per line, net × rate rounded half-up to 2 decimals, then summed (the rules
    and what is assumed about them: lb_common.money, "Amounts for the ledger").
    """
    net = vat = ZERO
    for line, rate in zip(plan.lines, _rates(plan, vat_rates), strict=True):
        if rate is None:
            raise MoneyError(f"No VAT rate for the invoice line '{line.description[:80]}'")
        net += line.net_total
        vat += ledger_vat(line.net_total, rate)
    return net, vat, net + vat


@dataclass(frozen=True)
class LineVat:
    """One order line (or shipping line): the shop's figures beside the ledger's."""

    description: str
    shop_net: Decimal
    shop_vat: Decimal
    ledger_net: Decimal
    ledger_vat: Decimal | None  # None: the ledger's VAT rate for the line is not known

    @property
    def vat_difference(self) -> Decimal | None:
        return None if self.ledger_vat is None else self.ledger_vat - self.shop_vat


@dataclass(frozen=True)
class PlanComparison:
    """The shop's VAT and total against what the ledger will compute for the planned invoice."""

    currency: str
    lines: tuple[LineVat, ...]
    shop_vat: Decimal
    shop_total: Decimal
    ledger_net: Decimal
    ledger_vat: Decimal
    ledger_total: Decimal
    vat_tolerance: Decimal
    total_tolerance: Decimal
    problems: tuple[str, ...]  # why the order must not be booked; empty when it may
    ledger: str = "e-conomic"  # the ledger's name for people

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def line_differences(self) -> tuple[str, ...]:
        """Each line whose VAT differs, in words (also when the document is within tolerance)."""
        c = self.currency
        out = []
        for line in self.lines:
            diff = line.vat_difference
            if line.ledger_vat is None:
                out.append(
                    f"'{line.description}': the shop charged {c} {line.shop_vat} VAT; the VAT "
                    f"rate {self.ledger} will use is not known."
                )
            elif diff:
                out.append(
                    f"'{line.description}': the shop charged {c} {line.shop_vat} VAT on "
                    f"{c} {_show(line.shop_net)}, {self.ledger} calculates {c} {line.ledger_vat} on "
                    f"{c} {line.ledger_net} (difference {diff:+})."
                )
        return tuple(out)

    def explain(self) -> str:
        """The problems and the line differences, for a bookkeeper."""
        return " ".join((*self.problems, *self.line_differences))

    def raise_if_failed(self) -> None:
        if self.problems:
            raise PermanentError(self.explain())


def _show(amount: Decimal) -> Decimal:
    """An amount as the shop shows it (no trailing digits beyond the cent unless needed)."""
    return amount.quantize(CENT) if amount == amount.quantize(CENT) else amount.normalize()


def compare_plan_with_shop(
    order: CanonicalOrder,
    plan: InvoicePlan,
    vat_rate_for_line: LedgerRateFor,
    *,
    tolerance: Decimal = CENT,
    ledger: str = "e-conomic",
) -> PlanComparison:
    """Compare, line by line, the VAT the shop charged with the VAT `ledger` will compute.

    `vat_rate_for_line` gives the rate the ledger applies to a planned line (from the customer's
    VAT zone and the product; planned_vat_rate gives the rate the plan assumed). The order fails
    (`problems`, `raise_if_failed`) when the ledger's VAT differs from the shop's `total_tax` by
    more than money.vat_tolerance (0.01, or the shop's own rounding for VND/JPY), when the
    ledger's gross differs from the shop's `total_price` by more than `tolerance`, or when a
    rate is unknown. Both figures are always given.
    """
    c = order.currency
    rates = _rates(plan, vat_rate_for_line)
    by_source: dict[str | None, list[tuple[PlannedLine, Decimal | None]]] = {}
    for line, rate in zip(plan.lines, rates, strict=True):
        by_source.setdefault(line.source_line_id, []).append((line, rate))

    shop_lines: list[tuple[str, str, Decimal, Decimal]] = []  # id, description, net, VAT
    for o in order.lines:
        amount = shop_line_amount(o.unit_price, o.quantity, c)
        net = net_after_discount(amount, o.discount, o.tax, order.taxes_included)
        shop_lines.append((o.line_id, o.title[:80], net, o.tax))
    for s in order.shipping_lines:
        net = net_after_discount(s.price, s.discount, s.tax, order.taxes_included)
        shop_lines.append((s.line_id, s.title[:80] or "Shipping", net, s.tax))

    compared: list[LineVat] = []
    for line_id, description, shop_net, shop_vat in shop_lines:
        planned = by_source.pop(line_id, [])
        if not planned and shop_net == 0 and shop_vat == 0:
            continue
        compared.append(_line_vat(description, shop_net, shop_vat, planned))
    for planned in by_source.values():  # planned lines that match no order line
        compared.append(_line_vat(planned[0][0].description[:80], ZERO, ZERO, planned))

    ledger_net = sum((line.ledger_net for line in compared), ZERO)
    unknown = [line for line in compared if line.ledger_vat is None]
    ledger_vat_total = sum((line.ledger_vat or ZERO for line in compared), ZERO)
    ledger_total = ledger_net + ledger_vat_total
    # Lines on which a VAT rounding happens: the ledger's taxed lines, and shop lines with VAT
    # that the plan has nothing for.
    taxed = sum(1 for rate in rates if rate) + sum(
        1 for line in compared if line.shop_vat and not line.ledger_net
    )
    allowed = vat_tolerance(c, taxed, tolerance)

    problems: list[str] = []
    if unknown:
        names = ", ".join(f"'{line.description}'" for line in unknown)
        problems.append(
            f"The VAT rate {ledger} will use is not known for {names}: check the product's "
            "VAT account and the customer's VAT zone."
        )
    else:
        vat_diff = ledger_vat_total - order.total_tax
        if abs(vat_diff) > allowed:
            problems.append(
                f"The shop charged {c} {order.total_tax} VAT, but {ledger} will calculate "
                f"{c} {ledger_vat_total} (difference {vat_diff:+}, more than the {allowed} "
                "allowed). Check the VAT zone of the customer and the VAT account of the products."
            )
        total_diff = ledger_total - order.total_price
        if abs(total_diff) > tolerance:
            problems.append(
                f"The invoice in {ledger} will total {c} {ledger_total} incl. VAT, but the shop's "
                f"order total is {c} {order.total_price} (difference {total_diff:+}, more than the "
                f"{tolerance} allowed)."
            )
    return PlanComparison(
        currency=c,
        lines=tuple(compared),
        shop_vat=order.total_tax,
        shop_total=order.total_price,
        ledger_net=ledger_net,
        ledger_vat=ledger_vat_total,
        ledger_total=ledger_total,
        vat_tolerance=allowed,
        total_tolerance=tolerance,
        problems=tuple(problems),
        ledger=ledger,
    )


def _line_vat(
    description: str,
    shop_net: Decimal,
    shop_vat: Decimal,
    planned: list[tuple[PlannedLine, Decimal | None]],
) -> LineVat:
    net = sum((line.net_total for line, _ in planned), ZERO)
    if any(rate is None for _, rate in planned):
        vat: Decimal | None = None
    else:
        vat = sum((ledger_vat(line.net_total, rate or ZERO) for line, rate in planned), ZERO)
    return LineVat(description, shop_net, shop_vat, net, vat)
