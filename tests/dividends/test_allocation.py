"""Pure allocation: largest remainder and the three policies (table-driven and properties)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dividends.allocation import (
    allocate,
    allocate_late_first,
    grouped_largest_remainder,
    grouped_split_within,
    largest_remainder,
)
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


def _cf(n: int) -> np.ndarray:
    return np.array(["pro_rata_carry_forward"] * n, dtype=object)


@settings(max_examples=150, deadline=None)
@given(
    obligations=st.lists(st.integers(1, 200_000), min_size=1, max_size=8),
    bench_share=st.fractions(min_value=0, max_value=1),
    surplus=st.integers(0, 500_000),
    batches=st.lists(st.integers(1, 100), min_size=1, max_size=4),
    lands=st.lists(st.sampled_from([1, 2]), min_size=4, max_size=4),
    later_own=st.lists(st.integers(0, 400_000), min_size=2, max_size=2),
)
def test_received_pays_what_accrued_pays_once_the_cash_is_in(
    obligations: list[int],
    bench_share: Fraction,
    surplus: int,
    batches: list[int],
    lands: list[int],
    later_own: list[int],
) -> None:
    """Year 0 earns enough for its obligations: ``accrued`` pays them at once. Under
    ``received`` year 0's run has only its benchmark cash; its subsidy comes in batches
    (random sizes) in the runs of year 1 or year 2 (random timing), whose own cash and
    obligations are random too. Once every batch is in, each payee got exactly what
    accrued paid for year 0, and year 0's late cash never paid a later year's
    obligations (what it leaves is residual, as accrued's surplus was)."""
    n = len(obligations)
    ob = np.array(obligations, dtype=np.int64)
    units = np.zeros(n, dtype=np.int64)
    revenue = int(ob.sum()) + surplus
    bench = int(revenue * bench_share)
    subsidy = revenue - bench
    parts = largest_remainder(subsidy, batches)
    late_by_run = {1: 0, 2: 0}
    for part, run in zip(parts, lands, strict=False):
        late_by_run[run] += part
    late_by_run[2] += sum(parts[len(lands) :])

    accrued = allocate(units=units, available=[revenue], obligations=ob, policies=_cf(n))
    assert accrued.paid.tolist() == obligations and int(accrued.unit_residual[0]) == surplus

    year0 = allocate(units=units, available=[bench], obligations=ob, policies=_cf(n))
    owed0 = year0.arrears_added.copy()  # year 0's arrears, oldest
    owed_later = np.zeros(n, dtype=np.int64)  # later years' arrears
    paid0 = year0.paid.copy()
    for run in (1, 2):
        own = later_own[run - 1]
        late = late_by_run[run]
        result = allocate_late_first(
            row_unit=units,
            late=np.array([late], dtype=np.int64),
            own=np.array([own], dtype=np.int64),
            obligations=ob,
            policies=_cf(n),
            arrears=owed0 + owed_later,
            arrears_late=owed0,
        )
        assert (result.paid >= 0).all() and (result.arrears_paid >= 0).all()
        assert int(result.unit_paid[0]) <= own  # a year's obligations from its own cash
        # oldest first: what was paid goes to year 0's arrears before later ones
        to_old = np.minimum(result.arrears_paid, owed0)
        to_later = result.arrears_paid - to_old
        assert int(to_old.sum()) >= min(late, int(owed0.sum()))
        paid0 += to_old
        owed0 -= to_old
        owed_later = owed_later - to_later + result.arrears_added
        # the late cash left over is residual, never a later year's obligation
        assert int(result.unit_residual[0]) >= late - int(to_old.sum())
    assert paid0.tolist() == accrued.paid.tolist()  # to the fen, per payee
    assert owed0.tolist() == [0] * n


@pytest.mark.parametrize(
    ("total", "weights", "caps", "expected"),
    [
        (7, [1, 1, 1], [3, 3, 3], [3, 2, 2]),  # no cap bites: plain largest remainder
        (7, [1, 1, 1], [1, 3, 3], [1, 3, 3]),  # 3 -> 1: the two fen cut go on in key order
        (3, [1, 1], [0, 5], [0, 3]),
        (0, [1, 2], [0, 0], [0, 0]),
    ],
)
def test_split_within_table(
    total: int, weights: list[int], caps: list[int], expected: list[int]
) -> None:
    parts = grouped_split_within(np.zeros(len(weights)), weights, [total], caps)
    assert parts.tolist() == expected


def test_split_within_refuses_caps_below_the_total() -> None:
    with pytest.raises(ValidationError, match="caps add up to less than the total"):
        grouped_split_within([0, 0], [1, 1], [5], [1, 1])


@settings(max_examples=300, deadline=None)
@given(
    weights=st.lists(st.integers(1, 10**6), min_size=1, max_size=30),
    gross=st.integers(0, 10**9),
    parts=st.lists(st.fractions(0, 1), min_size=2, max_size=2),
)
def test_a_joint_stations_unit_columns_reconcile(
    weights: list[int], gross: int, parts: list[Fraction]
) -> None:
    """Revenue split once over the villages' units, deductions and subsidy split within
    each unit's revenue: benchmark + subsidy - deductions = available, to the fen, per
    unit; every column adds up to the station's; nothing negative; each part within 2 fen
    of its exact share."""
    n = len(weights)
    groups = np.zeros(n, dtype=np.int64)
    ded, subsidy = int(gross * parts[0]), int(gross * parts[1])
    g = grouped_largest_remainder(groups, weights, [gross])
    d = grouped_split_within(groups, weights, [ded], g)
    s = grouped_split_within(groups, weights, [subsidy], g)
    bench, available = g - s, g - d
    assert (bench + s - d == available).all()
    assert int(d.sum()) == ded and int(s.sum()) == subsidy and int(available.sum()) == gross - ded
    assert (bench >= 0).all() and (available >= 0).all() and (d >= 0).all()
    total_w = sum(weights)
    for column, whole in ((d, ded), (s, subsidy), (g, gross)):
        exact = [Fraction(whole * w, total_w) for w in weights]
        assert all(abs(int(p) - e) < 2 for p, e in zip(column, exact, strict=True))


@settings(max_examples=300, deadline=None)
@given(
    obligations=st.lists(st.integers(1, 200_000), min_size=1, max_size=8),
    earned=st.fractions(min_value=0, max_value=1),
    bench_share=st.fractions(min_value=0, max_value=1),
    batches=st.lists(st.integers(1, 100), min_size=1, max_size=4),
    lands=st.lists(st.sampled_from([1, 2]), min_size=4, max_size=4),
)
@example(  # 2 fen apart when cash was split by obligations and arrears, not targets
    obligations=[213, 1, 1, 211, 21, 1, 1],
    earned=Fraction(20, 1271),
    bench_share=Fraction(19, 67),
    batches=[1, 1],
    lands=[1, 2, 1, 1],
)
def test_a_short_year_pays_each_payee_what_accrued_pays_once_the_cash_is_in(
    obligations: list[int],
    earned: Fraction,
    bench_share: Fraction,
    batches: list[int],
    lands: list[int],
) -> None:
    """Year 0 earns only part of its obligations: ``accrued`` pays each payee its part
    (its target). Under ``received`` year 0's run pays its benchmark cash toward the
    targets, and the subsidy batches (in the runs of year 1 or 2, which earn nothing of
    their own) pay what each target still lacks, as the engine does. Once every batch is
    in, each payee has exactly what accrued paid it, to the fen, and no run paid anyone
    beyond its target."""
    n = len(obligations)
    ob = np.array(obligations, dtype=np.int64)
    units = np.zeros(n, dtype=np.int64)
    revenue = int(int(ob.sum()) * earned)
    bench = int(revenue * bench_share)
    parts = largest_remainder(revenue - bench, batches)
    late_by_run = {1: 0, 2: 0}
    for part, run in zip(parts, lands, strict=False):
        late_by_run[run] += part
    late_by_run[2] += sum(parts[len(lands) :])

    accrued = allocate(units=units, available=[revenue], obligations=ob, policies=_cf(n))
    target = accrued.paid
    year0 = allocate(units=units, available=[bench], obligations=ob, policies=_cf(n),
                     targets=target)  # fmt: skip
    assert (year0.paid <= target).all() and int(year0.paid.sum()) == bench
    paid0 = year0.paid.copy()
    owed_later = np.zeros(n, dtype=np.int64)
    for run in (1, 2):
        owed0 = ob - paid0
        result = allocate_late_first(
            row_unit=units,
            late=np.array([late_by_run[run]], dtype=np.int64),
            own=np.zeros(1, dtype=np.int64),
            obligations=ob,
            policies=_cf(n),
            arrears=owed0 + owed_later,
            arrears_late=np.minimum(owed0, target - paid0),  # what each target lacks
        )
        assert (result.arrears_paid <= target - paid0).all()  # never beyond the target
        paid0 += result.arrears_paid
        owed_later += result.arrears_added
    assert paid0.tolist() == target.tolist()  # to the fen, per payee
    assert int(paid0.sum()) == revenue


@pytest.mark.parametrize(
    ("available", "targets", "expected"),
    [
        ([6], [4, 2, 0], [4, 2, 0]),  # the targets exactly
        ([3], [4, 2, 0], [2, 1, 0]),  # short of them: in proportion to the targets
        ([7], [4, 2, 0], [3, 2, 2]),  # beyond them: in proportion to the obligations
        ([0], [0, 0, 0], [0, 0, 0]),
    ],
)
def test_allocate_toward_targets_table(
    available: list[int], targets: list[int], expected: list[int]
) -> None:
    a = allocate(units=[0, 0, 0], available=available, obligations=[4, 4, 4],
                 policies=_cf(3), targets=targets)  # fmt: skip
    assert a.paid.tolist() == expected


@pytest.mark.parametrize(
    ("targets", "message"),
    [([5, 0, 0], "none above its obligation"), ([1, 1], "one per row"), ([-1, 0, 0], "negative")],
)
def test_allocate_refuses_bad_targets(targets: list[int], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        allocate(units=[0, 0, 0], available=[3], obligations=[4, 4, 4], policies=_cf(3),
                 targets=targets)  # fmt: skip
