"""Pure money allocation: largest-remainder splits and the payout policies.

Everything here is integer fen in and integer fen out; nothing rounds with floats.
Functions work on whole arrays at once (numpy), so a province-sized run is a handful of
vectorised passes rather than a Python loop per household.

Tie-break (stated once, used everywhere): after every part gets the floor of its exact
share, the fen left over go one each to the parts with the **largest remainder**; among
equal remainders, to the part with the **smallest tie-break key** (callers pass a stable
key: the payee's enrolment id, the village id, or the row order). So parts always sum
exactly to the whole and a re-run gives the same fen to the same parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from pvmon.errors import ValidationError

__all__ = [
    "POLICIES",
    "Allocation",
    "Policy",
    "allocate",
    "allocate_late_first",
    "grouped_largest_remainder",
    "grouped_split_within",
    "largest_remainder",
]

Policy = Literal["guaranteed", "pro_rata", "pro_rata_carry_forward"]
POLICIES: tuple[Policy, ...] = ("guaranteed", "pro_rata", "pro_rata_carry_forward")
_POLICY_CODE: dict[str, int] = {p: i for i, p in enumerate(POLICIES)}
_SAFE = 2**62
IntArray = npt.NDArray[np.int64]


def _as_int(values: Sequence[int] | npt.ArrayLike, what: str) -> IntArray:
    arr = np.asarray(values)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValidationError(f"{what}: must be integers, got {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and int(arr.min()) < 0:
        raise ValidationError(f"{what}: must not be negative (min {int(arr.min())})")
    return arr


def grouped_largest_remainder(
    groups: npt.ArrayLike,
    weights: npt.ArrayLike,
    totals: npt.ArrayLike,
    *,
    tiebreak: npt.ArrayLike | None = None,
) -> IntArray:
    """Split ``totals[g]`` [fen] among the rows of each group ``g`` in proportion to ``weights``.

    ``groups`` are row group indices 0..G-1, ``totals`` one non-negative integer per group,
    ``weights`` non-negative integers per row. A group whose weights are all zero gets
    nothing (its total must then be 0). Returns the parts, one per row; per group they
    sum exactly to the total. Tie-break: largest remainder, then smallest ``tiebreak``
    (default: row order).
    """
    g = np.asarray(groups, dtype=np.int64)
    w = _as_int(weights, "weights")
    t = _as_int(totals, "totals")
    n = g.size
    if w.size != n:
        raise ValidationError(f"weights: {w.size} values for {n} rows")
    if n == 0:
        if t.size and int(t.max()) > 0:
            raise ValidationError("totals: a non-zero total has no rows to go to")
        return np.zeros(0, dtype=np.int64)
    key = np.arange(n, dtype=np.int64) if tiebreak is None else np.asarray(tiebreak, np.int64)
    sum_w = np.zeros(t.size, dtype=np.int64)
    np.add.at(sum_w, g, w)
    empty = (sum_w == 0) & (t > 0)
    if empty.any():
        bad = int(np.flatnonzero(empty)[0])
        raise ValidationError(f"group {bad}: total {int(t[bad])} fen but all weights are 0")
    tg = t[g]
    swg = sum_w[g]
    if int(w.max()) and int(t.max()) and int(w.max()) * int(t.max()) >= _SAFE:
        # exact big-integer path for extreme products (never hit by yuan-sized money)
        prod = tg.astype(object) * w.astype(object)
        den = np.where(swg == 0, 1, swg).astype(object)
        q = np.array(prod // den, dtype=np.int64)
        r = np.array(prod % den, dtype=np.int64)  # < the group's weight sum: fits
    else:
        prod = tg * w
        den = np.where(swg == 0, 1, swg)
        q = prod // den
        # compare remainders across rows of one group: same denominator, so r itself orders
        r = prod % den
    left = t.copy()
    np.subtract.at(left, g, q)
    order = np.lexsort((key, -r, g))
    g_sorted = g[order]
    starts = np.searchsorted(g_sorted, np.arange(t.size), side="left")
    pos = np.arange(n, dtype=np.int64) - starts[g_sorted]
    extra = np.zeros(n, dtype=np.int64)
    extra[order] = (pos < left[g_sorted]).astype(np.int64)
    return q + extra


def grouped_split_within(
    groups: npt.ArrayLike,
    weights: npt.ArrayLike,
    totals: npt.ArrayLike,
    caps: npt.ArrayLike,
    *,
    tiebreak: npt.ArrayLike | None = None,
) -> IntArray:
    """:func:`grouped_largest_remainder`, with no part above its row's ``cap`` [fen].

    A part the split puts above its cap is cut to it, and the fen cut go to the group's
    other rows with room, in tie-break order. Each group's caps must add up to at least
    its total. Used to derive a unit's parts of a whole that is itself split (deductions
    within revenue), so every unit's columns reconcile to the fen.
    """
    g = np.asarray(groups, dtype=np.int64)
    cap = _as_int(caps, "caps")
    parts = grouped_largest_remainder(g, weights, totals, tiebreak=tiebreak)
    over = parts > cap
    if not over.any():
        return parts
    key = np.arange(g.size, dtype=np.int64) if tiebreak is None else np.asarray(tiebreak, np.int64)
    for group in np.unique(g[over]):
        rows = np.flatnonzero(g == group)
        rows = rows[np.argsort(key[rows], kind="stable")]
        excess = int((parts[rows] - cap[rows]).clip(min=0).sum())
        parts[rows] = np.minimum(parts[rows], cap[rows])
        for row in rows:
            if excess == 0:
                break
            give = min(excess, int(cap[row] - parts[row]))
            parts[row] += give
            excess -= give
        if excess:
            raise ValidationError(f"group {int(group)}: caps add up to less than the total")
    return parts


def largest_remainder(
    total: int, weights: Sequence[int], *, tiebreak: Sequence[int] | None = None
) -> list[int]:
    """Split ``total`` [fen] by integer ``weights``; parts sum to ``total`` exactly."""
    n = len(weights)
    parts = grouped_largest_remainder(
        np.zeros(n, dtype=np.int64), list(weights), [total], tiebreak=tiebreak
    )
    return [int(x) for x in parts]


@dataclass(frozen=True)
class Allocation:
    """Result of :func:`allocate`; arrays per obligation row, per unit for the ``unit_`` ones.

    All amounts [fen]. ``paid`` is what the current period's obligation receives,
    ``arrears_added`` what a carry-forward payee is still owed for it, ``arrears_paid`` what
    earlier arrears receive now. ``unit_shortfall`` is the guarantor's shortfall,
    ``unit_residual`` what is left for the residual owner.
    """

    paid: IntArray
    arrears_added: IntArray
    arrears_paid: IntArray
    factor: npt.NDArray[np.float64]
    unit_paid: IntArray
    unit_arrears_paid: IntArray
    unit_shortfall: IntArray
    unit_residual: IntArray
    unit_factor: npt.NDArray[np.float64]


def _toward(
    u: IntArray, scaled: npt.NDArray[np.bool_], ob: IntArray, targets: npt.ArrayLike, pay: IntArray
) -> IntArray:
    """Split weights per row: the targets in units whose ``pay`` [fen] they cover (a
    part of ``pay`` in proportion to the targets is then never above its target), else
    the obligations."""
    target = _as_int(targets, "targets")
    if target.size != ob.size or (target > ob).any():
        raise ValidationError("targets: one per row, none above its obligation")
    covered = np.zeros(pay.size, dtype=np.int64)
    np.add.at(covered, u[scaled], target[scaled])
    return np.where((pay <= covered)[u], target, ob)


def allocate(
    *,
    units: npt.ArrayLike,
    available: npt.ArrayLike,
    obligations: npt.ArrayLike,
    policies: Sequence[str] | npt.ArrayLike,
    arrears: npt.ArrayLike | None = None,
    tiebreak: npt.ArrayLike | None = None,
    targets: npt.ArrayLike | None = None,
) -> Allocation:
    """Allocate each unit's ``available`` [fen] to its obligation rows.

    Per unit: ``guaranteed`` rows are paid in full first (what the unit cannot cover is
    the guarantor shortfall); the rest is shared by the ``pro_rata`` and
    ``pro_rata_carry_forward`` rows, each scaled by min(1, remaining / their obligations)
    with a largest-remainder split, so the unit pays out exactly min(remaining, obligations).
    Carry-forward rows record what they were not paid as arrears. A surplus then pays
    outstanding ``arrears`` (oldest owed by carry-forward rows; proportional when short),
    and whatever is left is the residual.

    ``targets`` [fen], one per row and none above its obligation, are what each row is
    to be paid once all of the period's money is in (what the ``accrued`` basis pays it,
    for a run on cash that is still coming). A unit whose money does not reach its rows'
    targets splits it in proportion to the targets instead, so no row is paid beyond its
    target and later money can bring every row to its target exactly.
    """
    u = np.asarray(units, dtype=np.int64)
    avail = _as_int(available, "available")
    ob = _as_int(obligations, "obligations")
    n = u.size
    arr = np.zeros(n, dtype=np.int64) if arrears is None else _as_int(arrears, "arrears")
    names, inverse = np.unique(np.asarray(policies, dtype=object).astype(str), return_inverse=True)
    unknown = sorted(set(names.tolist()) - set(POLICIES))
    if unknown:
        raise ValidationError(f"policy: unknown {unknown}; expected one of {list(POLICIES)}")
    codes = np.array([_POLICY_CODE[str(p)] for p in names], dtype=np.int64)
    pol = codes[inverse.reshape(-1)] if inverse.size else np.zeros(0, dtype=np.int64)
    if ob.size != n or arr.size != n or pol.size != n:
        raise ValidationError("obligations, arrears and policies need one value per row")
    m = avail.size
    key = np.arange(n, dtype=np.int64) if tiebreak is None else np.asarray(tiebreak, np.int64)

    guaranteed = pol == 0
    g_sum = np.zeros(m, dtype=np.int64)
    np.add.at(g_sum, u[guaranteed], ob[guaranteed])
    shortfall = np.maximum(g_sum - avail, 0)
    remaining = np.maximum(avail - g_sum, 0)

    scaled = ~guaranteed
    p_sum = np.zeros(m, dtype=np.int64)
    np.add.at(p_sum, u[scaled], ob[scaled])
    p_pay = np.minimum(remaining, p_sum)
    paid = np.where(guaranteed, ob, 0)
    idx = np.flatnonzero(scaled)
    if idx.size:
        weights = ob if targets is None else _toward(u, scaled, ob, targets, p_pay)
        paid[idx] = grouped_largest_remainder(u[idx], weights[idx], p_pay, tiebreak=key[idx])
    with np.errstate(divide="ignore", invalid="ignore"):
        unit_factor = np.where(p_sum > 0, p_pay / np.where(p_sum == 0, 1, p_sum), 1.0)
    factor = np.where(guaranteed, 1.0, unit_factor[u])
    carry = pol == 2
    arrears_added = np.where(carry, ob - paid, 0)

    surplus = remaining - p_pay
    a_rows = carry & (arr > 0)
    a_sum = np.zeros(m, dtype=np.int64)
    np.add.at(a_sum, u[a_rows], arr[a_rows])
    a_pay = np.minimum(surplus, a_sum)
    arrears_paid = np.zeros(n, dtype=np.int64)
    aidx = np.flatnonzero(a_rows)
    if aidx.size:
        arrears_paid[aidx] = grouped_largest_remainder(
            u[aidx], arr[aidx], a_pay, tiebreak=key[aidx]
        )
    unit_paid = np.zeros(m, dtype=np.int64)
    np.add.at(unit_paid, u, paid)
    return Allocation(
        paid=paid,
        arrears_added=arrears_added,
        arrears_paid=arrears_paid,
        factor=factor.astype(np.float64),
        unit_paid=unit_paid,
        unit_arrears_paid=a_pay,
        unit_shortfall=shortfall,
        unit_residual=surplus - a_pay,
        unit_factor=unit_factor.astype(np.float64),
    )


def allocate_late_first(
    *,
    row_unit: npt.ArrayLike,
    late: IntArray,
    own: IntArray,
    obligations: IntArray,
    policies: npt.ArrayLike,
    arrears: IntArray,
    arrears_late: IntArray,
    targets: IntArray | None = None,
) -> Allocation:
    """Allocate a unit's late cash [fen] (received now for earlier generation periods)
    to the carry-forward arrears of the periods it pays for (``arrears_late``, oldest
    first) before anything else, then its own cash to the period's obligations (toward
    ``targets``, see :func:`allocate`) and, from a surplus, to the arrears left
    (:func:`allocate` twice). What late cash leaves over is residual: it was those
    periods' surplus, as under ``accrued``.

    Split by what each row's target still lacks (``arrears_late``), every batch pays no
    row beyond its target, so once the periods' cash is all in each row has its target
    to the fen, however the cash was split into batches and runs."""
    if not late.any():
        return allocate(units=row_unit, available=own, obligations=obligations,
                        policies=policies, arrears=arrears, targets=targets)  # fmt: skip
    first = allocate(units=row_unit, available=late, obligations=np.zeros_like(obligations),
                     policies=policies, arrears=arrears_late)  # fmt: skip
    then = allocate(units=row_unit, available=own, obligations=obligations, policies=policies,
                    arrears=arrears - first.arrears_paid, targets=targets)  # fmt: skip
    return Allocation(
        paid=then.paid,
        arrears_added=then.arrears_added,
        arrears_paid=first.arrears_paid + then.arrears_paid,
        factor=then.factor,
        unit_paid=then.unit_paid,
        unit_arrears_paid=first.unit_arrears_paid + then.unit_arrears_paid,
        unit_shortfall=then.unit_shortfall,
        unit_residual=first.unit_residual + then.unit_residual,
        unit_factor=then.unit_factor,
    )
