"""Pure allocation: largest remainder and the three policies (table-driven and properties)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dividends.allocation import allocate, grouped_largest_remainder, largest_remainder
from pvmon.errors import ValidationError


@pytest.mark.parametrize(
    ("total", "weights", "tiebreak", "expected"),
    [
        (100, [1, 1, 1], None, [34, 33, 33]),  # equal remainders: smallest key first
        (100, [1, 1, 1], [2, 1, 0], [33, 33, 34]),
        (10_000, [181, 184], None, [4959, 5041]),  # 100 yuan over a 1 July reassignment
        (90_000, [181, 184], None, [44630, 45370]),
        (1_000_001, [1, 3], None, [250000, 750001]),
        (0, [0, 0], None, [0, 0]),
        (5, [0, 2, 0], None, [0, 5, 0]),
        (110_000, [90, 91, 92, 92], None, [27123, 27425, 27726, 27726]),
    ],
)
def test_largest_remainder_table(total, weights, tiebreak, expected) -> None:
    assert largest_remainder(total, weights, tiebreak=tiebreak) == expected
    assert sum(expected) == total


@pytest.mark.parametrize(
    ("total", "weights", "message"),
    [
        (5, [0, 0], "all weights are 0"),
        (5, [-1, 2], "must not be negative"),
        (-5, [1, 2], "must not be negative"),
        (5, [1.5, 2], "must be integers"),
    ],
)
def test_largest_remainder_rejects(total, weights, message) -> None:
    with pytest.raises(ValidationError, match=message):
        largest_remainder(total, weights)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=12)),
        min_size=1,
        max_size=8,
    )
)
def test_grouped_largest_remainder_properties(groups) -> None:
    rows_g, rows_w, totals = [], [], []
    for g, (total, weights) in enumerate(groups):
        if sum(weights) == 0:
            total = 0
        totals.append(total)
        rows_g += [g] * len(weights)
        rows_w += weights
    parts = grouped_largest_remainder(rows_g, rows_w, totals)
    assert (parts >= 0).all()
    for g, total in enumerate(totals):
        mine = parts[np.asarray(rows_g) == g]
        weights = [w for gg, w in zip(rows_g, rows_w, strict=True) if gg == g]
        assert int(mine.sum()) == total  # parts sum exactly to the whole
        s = sum(weights)
        for part, w in zip(mine, weights, strict=True):
            exact = Fraction(total * w, s) if s else Fraction(0)
            assert abs(Fraction(int(part)) - exact) < 1  # under 1 fen per line


def test_huge_products_take_the_exact_path() -> None:
    parts = largest_remainder(4 * 10**12, [3 * 10**9, 10**9])
    assert parts == [3 * 10**12, 10**12]


def _alloc(available, obligations, policy, arrears=None):
    n = len(obligations)
    return allocate(
        units=[0] * n,
        available=[available],
        obligations=obligations,
        policies=[policy] * n,
        arrears=arrears,
    )


@pytest.mark.parametrize(
    ("policy", "available", "paid", "added", "shortfall", "residual"),
    [
        ("guaranteed", 150_000, [100_000, 100_000, 100_000], [0, 0, 0], 150_000, 0),
        ("pro_rata", 150_000, [50_000, 50_000, 50_000], [0, 0, 0], 0, 0),
        ("pro_rata_carry_forward", 150_000, [50_000] * 3, [50_000] * 3, 0, 0),
        ("pro_rata", 400_000, [100_000] * 3, [0, 0, 0], 0, 100_000),
        ("pro_rata", 100_001, [33_334, 33_334, 33_333], [0, 0, 0], 0, 0),
        ("guaranteed", 0, [100_000] * 3, [0, 0, 0], 300_000, 0),
    ],
)
def test_policies_table(policy, available, paid, added, shortfall, residual) -> None:
    a = _alloc(available, [100_000] * 3, policy)
    assert a.paid.tolist() == paid
    assert a.arrears_added.tolist() == added
    assert int(a.unit_shortfall[0]) == shortfall
    assert int(a.unit_residual[0]) == residual


def test_carry_forward_pays_arrears_from_surplus_before_residual() -> None:
    a = _alloc(350_000, [100_000] * 3, "pro_rata_carry_forward", arrears=[50_000, 50_000, 0])
    assert a.paid.tolist() == [100_000] * 3
    assert a.arrears_paid.tolist() == [25_000, 25_000, 0]
    assert int(a.unit_residual[0]) == 0
    b = _alloc(500_000, [100_000] * 3, "pro_rata_carry_forward", arrears=[50_000, 50_000, 0])
    assert b.arrears_paid.tolist() == [50_000, 50_000, 0]
    assert int(b.unit_residual[0]) == 100_000


def test_unknown_policy_is_named() -> None:
    with pytest.raises(ValidationError, match="policy: unknown"):
        _alloc(1, [1], "best_effort")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.integers(0, 200_000),
            st.sampled_from(["guaranteed", "pro_rata", "pro_rata_carry_forward"]),
            st.integers(0, 100_000),
        ),
        min_size=1,
        max_size=30,
    ),
    st.lists(st.integers(0, 2_000_000), min_size=6, max_size=6),
)
def test_allocate_properties(rows, available) -> None:
    units = [r[0] for r in rows]
    ob = [r[1] for r in rows]
    pol = [r[2] for r in rows]
    arr = [r[3] if r[2] == "pro_rata_carry_forward" else 0 for r in rows]
    a = allocate(units=units, available=available, obligations=ob, policies=pol, arrears=arr)
    for name in ("paid", "arrears_added", "arrears_paid"):
        assert (getattr(a, name) >= 0).all()  # nobody negative
    assert (a.paid <= np.asarray(ob)).all()
    assert (a.arrears_paid <= np.asarray(arr)).all()
    assert (a.unit_residual >= 0).all() and (a.unit_shortfall >= 0).all()
    for u in range(6):
        rows_u = [i for i in range(len(rows)) if units[i] == u]
        paid = sum(int(a.paid[i]) + int(a.arrears_paid[i]) for i in rows_u)
        # the unit's money is accounted for exactly: payouts + residual = available + shortfall
        assert paid + int(a.unit_residual[u]) == available[u] + int(a.unit_shortfall[u])
        scaled = [i for i in rows_u if pol[i] != "guaranteed"]
        want = sum(ob[i] for i in scaled)
        if want:
            f = Fraction(sum(int(a.paid[i]) for i in scaled), want)
            for i in scaled:  # each scaled line within 1 fen of factor x obligation
                assert abs(int(a.paid[i]) - f * ob[i]) < 1
