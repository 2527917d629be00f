"""Pure cash rules: table-driven cases and hypothesis properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dividends.cash.pure import allocate_receipt, plan_budget_problem, reconcile, repay_oldest_first
from pvmon.errors import ValidationError


@pytest.mark.parametrize(
    ("amount", "outstanding", "expected"),
    [
        (10, [1, 1, 1], None),  # more than is outstanding: refused
        (3, [1, 1, 1], [1, 1, 1]),
        (1, [1, 1, 1], [1, 0, 0]),  # equal remainders: smallest key first
        (5, [3, 7], [2, 3]),  # 1.5 / 3.5: equal remainders, smallest key first
        (5, [2, 8], [1, 4]),
    ],
)
def test_allocate_receipt_table(
    amount: int, outstanding: list[int], expected: list[int] | None
) -> None:
    if expected is None:
        with pytest.raises(ValidationError):
            allocate_receipt(amount, outstanding)
    else:
        assert allocate_receipt(amount, outstanding) == expected


@given(
    st.lists(st.integers(0, 10**9), min_size=1, max_size=30),
    st.integers(0, 10**9),
)
def test_receipt_parts_sum_and_stay_within_outstanding(outstanding: list[int], seed: int) -> None:
    amount = seed % (sum(outstanding) + 1)
    parts = allocate_receipt(amount, outstanding)
    assert sum(parts) == amount
    assert all(0 <= p <= o for p, o in zip(parts, outstanding, strict=True))


@given(st.lists(st.integers(0, 10**9), max_size=30), st.integers(0, 10**10))
def test_repayment_oldest_first_never_negative(outstanding: list[int], cash: int) -> None:
    parts = repay_oldest_first(outstanding, cash)
    assert sum(parts) == min(cash, sum(outstanding))
    assert all(0 <= p <= o for p, o in zip(parts, outstanding, strict=True))
    # oldest first: a later advance is repaid only when every earlier one is settled
    for i, p in enumerate(parts):
        if p:
            assert all(parts[j] == outstanding[j] for j in range(i))


@pytest.mark.parametrize(
    ("settled", "metered", "flagged"),
    [(970, 1000, True), (995, 1000, False), (1010, 1000, False), (1011, 1000, True),
     (5, 0, True), (0, 0, False)],
)  # fmt: skip
def test_reconcile_tolerance(settled: int, metered: int, flagged: bool) -> None:
    rec = reconcile(
        station_id=1, station_code="S", period_start=None, period_end=None,
        settled_wh=settled, metered_wh=metered, tolerance=Decimal("0.01"),
    )  # fmt: skip
    assert rec.flagged is flagged


def test_plan_budget() -> None:
    assert plan_budget_problem(available_fen=100, lines_fen=[60, 40]) is None
    assert plan_budget_problem(available_fen=100, lines_fen=[60, 41]) == (
        "plan total 101 fen exceeds the collective's available revenue 100 fen by 1 fen"
    )
