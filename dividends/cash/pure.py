"""Pure money rules of the cash side: receipts, advances, reconciliation, plan budgets.

Integer fen in, integer fen out. Splits use
:func:`dividends.allocation.largest_remainder` (tie-break: largest remainder, then the
smallest key the caller passes: station id, then period start as an ordinal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from dividends.allocation import largest_remainder
from pvmon.errors import ValidationError

__all__ = [
    "PLAN_CATEGORIES",
    "Reconciliation",
    "allocate_receipt",
    "plan_budget_problem",
    "reconcile",
    "repay_oldest_first",
]

PLAN_CATEGORIES = ("welfare_job_wages", "public_works", "rewards_hardship")


def allocate_receipt(
    amount_fen: int, outstanding_fen: Sequence[int], *, keys: Sequence[int] | None = None
) -> list[int]:
    """Split a subsidy batch [fen] over station-periods by their outstanding subsidy [fen].

    The parts sum to ``amount_fen``, none is negative and none exceeds its outstanding
    amount (the batch may not exceed the total outstanding). Tie-break: ``keys`` ascending.
    """
    if amount_fen < 0:
        raise ValidationError(f"amount: {amount_fen} fen must not be negative")
    if any(o < 0 for o in outstanding_fen):
        raise ValidationError("outstanding: amounts must not be negative")
    total = sum(outstanding_fen)
    if amount_fen > total:
        raise ValidationError(
            f"amount: {amount_fen} fen exceeds the {total} fen outstanding for what it covers"
        )
    if amount_fen == total:
        return list(outstanding_fen)
    return largest_remainder(amount_fen, list(outstanding_fen), tiebreak=keys)


def repay_oldest_first(outstanding_fen: Sequence[int], cash_fen: int) -> list[int]:
    """Repay advances [fen] (given oldest first) from ``cash_fen``; returns each repayment.

    Each repayment is between 0 and its advance's outstanding amount; together they are
    min(cash, total outstanding).
    """
    if cash_fen < 0 or any(o < 0 for o in outstanding_fen):
        raise ValidationError("repayment: cash and advances must not be negative")
    left = cash_fen
    out = []
    for owed in outstanding_fen:
        part = min(owed, left)
        out.append(part)
        left -= part
    return out


@dataclass(frozen=True)
class Reconciliation:
    """Settled against inverter-metered energy [Wh] for one station and period.

    ``difference_wh`` = settled − metered; ``ratio`` = difference / metered (None without
    metered energy); ``flagged`` when |ratio| exceeds the tolerance or nothing was metered
    while something was settled.
    """

    station_id: int
    station_code: str
    period_start: object
    period_end: object
    settled_wh: int
    metered_wh: int
    difference_wh: int
    ratio: Decimal | None
    flagged: bool


def reconcile(
    *,
    station_id: int,
    station_code: str,
    period_start: object,
    period_end: object,
    settled_wh: int,
    metered_wh: int,
    tolerance: Decimal,
) -> Reconciliation:
    """Compare settled with metered energy [Wh]; ``tolerance`` is a fraction (0.01 = 1 %)."""
    diff = settled_wh - metered_wh
    if metered_wh > 0:
        ratio: Decimal | None = (Decimal(diff) / Decimal(metered_wh)).quantize(Decimal("0.000001"))
        flagged = abs(Decimal(diff)) > tolerance * Decimal(metered_wh)
    else:
        ratio = None
        flagged = settled_wh > 0
    return Reconciliation(
        station_id,
        station_code,
        period_start,
        period_end,
        settled_wh,
        metered_wh,
        diff,
        ratio,
        flagged,
    )


def plan_budget_problem(*, available_fen: int, lines_fen: Sequence[int]) -> str | None:
    """Why a plan spending ``lines_fen`` does not fit ``available_fen`` [fen], or None."""
    if any(x <= 0 for x in lines_fen):
        return "every plan line needs a positive amount"
    total = sum(lines_fen)
    if total > available_fen:
        return (
            f"plan total {total} fen exceeds the collective's available revenue "
            f"{available_fen} fen by {total - available_fen} fen"
        )
    return None
