"""All money arithmetic lives here: Decimal only, each currency's own exponent, one rounding rule.

Rounding rule (documented once, used everywhere): amounts are rounded half-up to the currency's
exponent per line; document totals are the sum of rounded lines, then compared with the shop's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 currencies whose minor unit is not 2. Everything else uses 2 decimals.
_EXPONENTS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

ZERO = Decimal("0")


class MoneyError(ValueError):
    """A value that should be an amount of money is not one."""


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def to_decimal(value: object, *, field: str = "amount") -> Decimal:
    """Parse a platform money value (string, int, or the odd JSON number) without going via float."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"{field}: expected an amount, got {value!r}")
    if isinstance(value, float):
        # JSON numbers arrive as float from a generic parser; repr() is the shortest exact text.
        value = repr(value)
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{field}: {value!r} is not a number") from exc
    if not result.is_finite():
        raise MoneyError(f"{field}: {value!r} is not a finite number")
    return result


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's exponent (2 decimals for DKK, 0 for VND)."""
    quantum = Decimal(1).scaleb(-exponent(currency))
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


def round_2(amount: Decimal) -> Decimal:
    """Half-up to two decimals: e-conomic refuses `unitNetPrice` with more (E04740)."""
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- Amounts for the ledger (e-conomic) ----------------------------------------------------------
#
# e-conomic takes `quantity` and `unitNetPrice` (at most 2 decimals, whatever the currency) and
# computes the rest itself. The rules below are what this code assumes it computes:
#
#   line net  = quantity × unitNetPrice            (exact for whole quantities; see ledger_line_net)
#   line VAT  = line net × the line's VAT rate, rounded half-up to 2 decimals, per line
#   net, VAT  = the sums of the line figures;  gross = net + VAT
#
# Evidence: the booked-invoice schema gives each line its own `vatAmount` (maxDecimal 2) beside
# the document's `vatAmount`, and a live draft with 2 × 100.00 came back net 200, gross 250.
# Not verified: that the document VAT is the sum of the rounded line VAT (rather than the rounded
# sum), that the rounding is half-up (rather than half-even), and what `roundingAmount` does for
# currencies whose minor unit is not 0.01. A sandbox or trial agreement can settle all three.

CENT = Decimal("0.01")


def minor_unit(currency: str) -> Decimal:
    """The currency's smallest amount: 0.01 DKK, 1 VND, 0.001 KWD."""
    return Decimal(1).scaleb(-exponent(currency))


def round_to(amount: Decimal, places: int) -> Decimal:
    """Half-up to `places` decimals."""
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def shop_line_amount(unit_price: Decimal, quantity: Decimal, currency: str) -> Decimal:
    """unit × quantity as the shop holds it.

    Where a platform had to round the unit price (WooCommerce keeps 6 decimals of 10.00 / 3), the
    product misses the shop's line amount by less than a millionth per unit: it is rounded back to
    the currency's exponent. Otherwise the product is kept exactly as it is.
    """
    amount = unit_price * quantity
    rounded = round_money(amount, currency)
    if abs(amount - rounded) <= abs(quantity) * Decimal("0.0000005"):
        return rounded
    return amount


def ledger_vat(net: Decimal, rate: Decimal) -> Decimal:
    """The VAT e-conomic puts on one invoice line (see the rules above)."""
    return round_2(net * rate)


def ledger_line_net(quantity: Decimal, unit_net_price: Decimal) -> Decimal:
    """The net of one invoice line as e-conomic computes it: exact for whole quantities.

    Assumption for fractional quantities (1.5 kg): the product is rounded half-up to 2 decimals.
    """
    return round_2(quantity * unit_net_price)


def split_exact(net_total: Decimal, quantity: Decimal) -> tuple[tuple[Decimal, Decimal], ...]:
    """(quantity, unit net price) parts whose unit prices have 2 decimals and whose nets sum to
    `net_total` exactly. The quantities sum to `quantity` (stock moves stay right).

    One part when the division is exact; otherwise two, the cheaper units first:
    100.00 for 3 → (2, 33.33), (1, 33.34). Why split rather than use `discountPercentage`: a
    percentage has only 2 decimals too, so it cannot make most lines exact, and how e-conomic
    rounds a discounted line is not documented; quantity × unitNetPrice is plain arithmetic.

    `net_total` must have at most 2 decimals. A fractional quantity cannot in general be split
    exactly: it gets one part at the nearest unit price (ledger_line_net shows what it comes to).
    """
    if net_total != round_2(net_total):
        raise MoneyError(f"net_total: {net_total} has more than 2 decimals")
    if quantity <= 0:
        raise MoneyError(f"quantity: {quantity} is not positive")
    if quantity != quantity.to_integral_value():
        return ((quantity, round_2(net_total / quantity)),)
    units, cents = int(quantity), int(net_total * 100)
    base, remainder = divmod(cents, units)  # floor division: also right for negative nets
    low = Decimal(base).scaleb(-2).quantize(CENT)
    if remainder == 0:
        return ((quantity, low),)
    high = Decimal(base + 1).scaleb(-2).quantize(CENT)
    return ((Decimal(units - remainder), low), (Decimal(remainder), high))


def vat_tolerance(currency: str, taxed_lines: int, tolerance: Decimal = CENT) -> Decimal:
    """Largest acceptable difference between the shop's VAT and the ledger's, per document.

    `tolerance` (0.01) for currencies with 2 decimals: the shop and the ledger round each line's
    VAT to the same cent. A currency with another minor unit cannot match cent for cent: the shop
    rounds each line's VAT to its unit (1 VND, 0.001 KWD), the ledger to 0.01, so each taxed line
    may add up to half of each: (0.005 + half a minor unit) × `taxed_lines`, if that is larger.
    """
    if exponent(currency) == 2:
        return tolerance
    return max(tolerance, (CENT + minor_unit(currency)) / 2 * taxed_lines)


@dataclass(frozen=True)
class LineTarget:
    """One line as the shop booked it, for fit_ledger_nets."""

    net: Decimal  # the shop's net amount for the whole line (exact, any number of decimals)
    vat: Decimal  # the VAT the shop charged on the line
    quantity: Decimal
    rate: Decimal | None  # the rate the ledger applies; None: unknown, the net is kept as is


@dataclass(frozen=True)
class LedgerLine:
    """What fit_ledger_nets chose for one LineTarget."""

    parts: tuple[tuple[Decimal, Decimal], ...]  # (quantity, unitNetPrice), from split_exact
    net: Decimal  # the ledger's net for the line (sum of the parts)
    vat: Decimal  # the ledger's VAT for the line (per part, see ledger_vat); shop's when unknown
    moved: Decimal = ZERO  # how far `net` was moved from the shop's net rounded to 2 decimals


def _window(currency: str) -> int:
    """How many cents a line's net may move to absorb rounding (each way)."""
    e = exponent(currency)
    if e >= 2:
        return 2
    # The shop rounded its VAT to whole units (or tenths): up to half a unit to absorb.
    return int(minor_unit(currency) * 100) // 2 + 2


def _moves(target: LineTarget, start: Decimal, window: int) -> list[int]:
    """Cents to try: around the shop's net, and around the net whose gross is the shop's."""
    if target.rate is None:
        return [0]
    # The net n with n × (1 + rate) = the shop's gross, in cents from `start`.
    aim = int(((target.net + target.vat) / (1 + target.rate) - start) / CENT)
    aim = max(-window, min(window, aim))
    near = {m for centre in (0, aim) for m in range(centre - 2, centre + 3)}
    return sorted(m for m in near if -window <= m <= window)


def split_variants(
    net_total: Decimal, quantity: Decimal
) -> list[tuple[tuple[Decimal, Decimal], ...]]:
    """split_exact's parts first, then the other exact two-part splits whose unit prices are
    within 2 cents of the exact unit price (100.00 for 3: 1 × 33.32 + 2 × 33.34, ...).

    Each part is an invoice line on which e-conomic rounds the VAT, so the choice of split moves
    the ledger's VAT by a cent: fit_ledger_nets picks the split whose VAT matches the shop's.
    """
    first = split_exact(net_total, quantity)
    if len(first) == 1 or quantity != quantity.to_integral_value():
        return [first]
    units, cents = int(quantity), int(net_total * 100)
    low = cents // units
    found = [first]
    for q1 in range(1, units):
        q2 = units - q1
        for a in range(low - 2, low + 1):
            b, rest = divmod(cents - q1 * a, q2)
            if rest or b <= a or (b - low) > 2:
                continue
            parts = (
                (Decimal(q1), Decimal(a).scaleb(-2).quantize(CENT)),
                (Decimal(q2), Decimal(b).scaleb(-2).quantize(CENT)),
            )
            if parts != first:
                found.append(parts)
    return found


def _ledger_lines(target: LineTarget, net: Decimal, moved: Decimal) -> list[LedgerLine]:
    """The ways to invoice `net` for the target's quantity, split_exact's first."""
    if target.rate is None or target.rate == 0:
        variants = [split_exact(net, target.quantity)]
    else:
        variants = split_variants(net, target.quantity)
    lines = []
    for parts in variants:
        nets = [ledger_line_net(q, u) for q, u in parts]
        if target.rate is None:
            vat = target.vat
        else:
            vat = sum((ledger_vat(n, target.rate) for n in nets), ZERO)
        lines.append(LedgerLine(parts, sum(nets, ZERO), vat, moved))
    return lines


def fit_ledger_nets(
    targets: Sequence[LineTarget],
    currency: str,
    *,
    total_tolerance: Decimal = CENT,
    vat_allowed: Decimal | None = None,
) -> list[LedgerLine]:
    """Ledger lines (2-decimal unit prices) whose e-conomic totals reach the shop's.

    The rule: each line starts from the shop's own net, rounded half-up to 2 decimals and split
    exactly (split_exact). Where the ledger's per-line VAT rounding would then miss the shop's
    gross (net + VAT), a line's net may move by a few cents (up to half the shop's minor unit for
    VND/JPY), so that, over the whole document, in this order of priority:

    1. the ledger's gross is within `total_tolerance` of the shop's (sum of the lines' net + VAT);
    2. the ledger's VAT is within `vat_allowed` of the shop's (default: vat_tolerance);
    3. the gross differs as little as possible;
    4. the nets move as few cents as possible (none when the shop rounds VAT per line as the
       ledger does, e.g. a shop with prices excluding VAT), and lines are split as split_exact
       does unless another exact split (split_variants) brings the VAT closer;
    5. the VAT differs as little as possible.

    A line with an unknown rate keeps the shop's net. Differences beyond a few cents (a wrong VAT
    rate, a shop total that is not the sum of its lines) are not absorbed: reconcile reports them.
    """
    if vat_allowed is None:
        taxed = sum(1 for t in targets if t.rate is None or t.rate != 0)
        vat_allowed = vat_tolerance(currency, taxed, total_tolerance)
    window = _window(currency)
    # Per line: the candidate nets, as (gross difference, VAT difference, cents moved, line).
    menus: list[list[tuple[Decimal, Decimal, int, LedgerLine]]] = []
    for target in targets:
        start = round_2(target.net)
        moves = _moves(target, start, window)
        options: dict[tuple[Decimal, Decimal], tuple[Decimal, Decimal, int, LedgerLine]] = {}
        for move in moves:
            for n, line in enumerate(_ledger_lines(target, start + CENT * move, CENT * move)):
                gross = line.net + line.vat - target.net - target.vat
                vat = line.vat - target.vat
                # Cost: 10 a cent moved, 1 for a split other than split_exact's.
                cost = 10 * abs(move) + min(n, 1)
                key = (gross, vat)
                if key not in options or cost < options[key][2]:
                    options[key] = (gross, vat, cost, line)
        best = min(abs(o[0]) for o in options.values())
        # A line that cannot hit its own gross within 2 cents is left to the others to offset.
        menus.append([o for o in options.values() if abs(o[0]) <= best + 2 * CENT])

    # Dynamic programme over the lines; state = (gross difference, VAT difference) so far.
    State = tuple[Decimal, Decimal]
    states: dict[State, tuple[int, tuple[LedgerLine, ...]]] = {(ZERO, ZERO): (0, ())}
    for menu in menus:
        following: dict[State, tuple[int, tuple[LedgerLine, ...]]] = {}
        for (gross, vat), (moved, chosen) in states.items():
            for d_gross, d_vat, d_moved, line in menu:
                key = (gross + d_gross, vat + d_vat)
                cost = moved + d_moved
                if key not in following or cost < following[key][0]:
                    following[key] = (cost, (*chosen, line))
        ranked = sorted(following.items(), key=lambda kv: (abs(kv[0][0]) + abs(kv[0][1]), kv[1][0]))
        states = dict(ranked[:_STATES_KEPT])

    def badness(item: tuple[State, tuple[int, tuple[LedgerLine, ...]]]) -> tuple[Decimal, ...]:
        (gross, vat), (moved, _) = item
        return (
            max(ZERO, abs(gross) - total_tolerance),
            max(ZERO, abs(vat) - vat_allowed),
            abs(gross),
            Decimal(moved),
            abs(vat),
        )

    return list(min(states.items(), key=badness)[1][1])


_STATES_KEPT = 64
