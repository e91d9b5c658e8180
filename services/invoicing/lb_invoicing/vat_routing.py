"""Which product books each planned line, by VAT treatment and rate (the connection's
`vat_routes`): pure functions over the plan, the order's treatment and the products' groups.

e-conomic has no VAT field on a draft line: it takes the rate from the line's product group,
that group's sales account for the customer's VAT zone, and the account's VAT code
(docs/sandbox.md, "VAT"). A product has one group, so a sale that must be taxed otherwise
(an EU consumer under OSS at the buyer country's rate, an EU business reverse-charged, an
export) goes on a product whose group books that VAT. The routes say which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from lb_common.errors import PermanentError
from lb_common.vat_treatment import VatTreatment
from lb_invoicing.lines import InvoicePlan, PlannedLine
from lb_invoicing.policy import VatRoute

_WORDS: dict[str, str] = {
    "domestic": "a domestic sale",
    "eu_oss": "a sale to an EU consumer (OSS)",
    "eu_reverse_charge": "a sale to an EU business (reverse charge)",
    "abroad": "a sale outside the EU",
}


def route_for(
    routes: tuple[VatRoute, ...], treatment: VatTreatment, country: str | None, line: PlannedLine
) -> VatRoute | None:
    """The first route for the treatment, the buyer's country and the line's rate."""
    for route in routes:
        if route.treatment != treatment:
            continue
        if route.country is not None and route.country != country:
            continue
        if route.rate is not None and route.rate != line.vat_rate:
            continue
        return route
    return None


def route_plan(
    plan: InvoicePlan,
    routes: tuple[VatRoute, ...],
    treatment: VatTreatment,
    country: str | None,
    group_of: Mapping[str, int],
) -> InvoicePlan:
    """The plan with each line on the product its route names.

    `group_of`: product number → its product group, for the products the plan uses. A line no
    route matches keeps its product. Raises PermanentError, naming the line, its product's group
    and the route, when a route keeps lines only in a group the line's product is not in and
    names no product to book them on instead.
    """
    if not routes:
        return plan
    lines: list[PlannedLine] = []
    notes: list[str] = []
    for line in plan.lines:
        route = route_for(routes, treatment, country, line)
        if route is None:
            lines.append(line)
            continue
        group = group_of.get(line.product_number)
        if route.product_group is not None and group == route.product_group:
            lines.append(line)
            continue
        if route.product is None:
            rate = (
                f" at {(line.vat_rate * 100).normalize():f}% VAT"
                if line.vat_rate is not None
                else ""
            )
            raise PermanentError(
                f"Line '{line.description[:80]}' is {_WORDS[treatment]}"
                f"{f' to {country}' if country else ''}{rate}, which the VAT routes book on "
                f"product group {route.product_group}, but its product {line.product_number} "
                f"is in product group {group}. Move the product to group "
                f"{route.product_group} in e-conomic, or give the route a product to book "
                "such lines on, then replay."
            )
        lines.append(replace(line, product_number=route.product))
        if route.product != line.product_number:
            notes.append(
                f"Line '{line.description[:80]}' booked on product {route.product} "
                f"({_WORDS[treatment]}{f' to {country}' if country else ''})."
            )
    return InvoicePlan(tuple(lines), (*plan.notes, *notes))


def route_products(routes: tuple[VatRoute, ...]) -> frozenset[str]:
    """The products the routes book on, to look up before planning."""
    return frozenset(route.product for route in routes if route.product)
