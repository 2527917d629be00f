"""Village distribution plans: budget, approval chain, payout with four eyes."""

from __future__ import annotations

from pathlib import Path

import pytest

from dividends.cash.errors import PlanOverBudgetError, PlanStateError
from dividends.cash.plans import (
    PlanLine,
    approve_plan_payout,
    collective_available,
    create_plan_payout,
    draft_plan,
    export_plan_payout,
    file_plan,
    plan_events,
    review_plan,
    send_back_plan,
)
from dividends.errors import FourEyesError
from dividends.runs import approve_run, compute_run
from tests.dividends.cash.helpers import village_station
from tests.dividends.conftest import World


def _collective_year(world: World) -> tuple[int, list[int]]:
    v = world.villages[0]
    station, households = village_station(world, "VS1", v, slots=2)
    world.feed("2025", {station: 10_000})  # 10,000 kWh = 1,000,000 fen
    run = compute_run(world.conn, period="2025", created_by="clerk")
    approve_run(world.conn, run, approved_by="chief")
    return v, households


def test_plan_over_available_is_refused_with_the_figures(world: World) -> None:
    v, households = _collective_year(world)
    # 2 x 100 yuan collective + residual 1,000,000 - 2 x 100,000 = 800,000 fen
    assert collective_available(world.conn, village_id=v, year=2025) == 820_000
    lines = [
        PlanLine("welfare_job_wages", "张1三", 500_000, household_id=households[0]),
        PlanLine("public_works", "修路队", 320_001),
    ]
    with pytest.raises(PlanOverBudgetError) as err:
        draft_plan(world.conn, village="V1", year=2025, lines=lines, drafted_by="村委")
    assert "plan total 820001 fen exceeds the collective's available revenue 820000 fen" in str(
        err.value
    )
    assert world.conn.execute("SELECT count(*) FROM village_plans").fetchone() == (0,)


def test_sent_back_plan_cannot_be_paid_and_a_filed_one_is_paid_with_four_eyes(
    world: World, tmp_path: Path
) -> None:
    conn = world.conn
    _v, households = _collective_year(world)
    lines = [
        PlanLine("welfare_job_wages", "张1三", 300_000, household_id=households[0]),
        PlanLine("rewards_hardship", "张2三", 100_000, household_id=households[1]),
    ]
    plan = draft_plan(conn, village="V1", year=2025, lines=lines, drafted_by="村委王")
    send_back_plan(conn, plan, by="镇审核李", reason="公益岗位名单未公示")
    with pytest.raises(PlanStateError, match="only a plan filed with the county can be paid"):
        create_plan_payout(conn, plan, created_by="clerk")
    with pytest.raises(PlanStateError):
        review_plan(conn, plan, by="镇审核李")
    assert plan_events(conn, plan) == [
        ("drafted", "村委王", ""),
        ("sent_back", "镇审核李", "公益岗位名单未公示"),
    ]
    # the sent-back plan no longer holds money: a new plan may spend it again
    again = draft_plan(conn, village="V1", year=2025, lines=lines, drafted_by="村委王")
    review_plan(conn, again, by="镇审核李")
    file_plan(conn, again, by="县备案赵")
    run = create_plan_payout(conn, again, created_by="clerk")
    with pytest.raises(FourEyesError):
        approve_plan_payout(conn, run, approved_by="clerk")
    approve_plan_payout(conn, run, approved_by="chief")
    total = export_plan_payout(conn, run, tmp_path / "plan.csv")
    assert total == 400_000
    text = (tmp_path / "plan.csv").read_text(encoding="utf-8-sig")
    assert "张*三" in text and "张1三" not in text
