"""Further schemes as data, without code: per-person amounts, shares of net revenue, a
25-year horizon, scheme versions by effective date; invalid specs named."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from dividends.runs import approve_run, compute_run
from dividends.schemes import Component, SchemeSpec, define_scheme, enrol
from pvmon.errors import ValidationError
from tests.dividends.conftest import World

# these runs look decades ahead: approved as if every period had ended
_LATER = date(2100, 1, 1)


def _amounts(world: World, run: int) -> dict[tuple[str, int], int]:
    rows = world.conn.execute(
        "SELECT payee_kind, payee_id, sum(amount_fen)::bigint FROM dividend_lines"
        " WHERE run_id = %s GROUP BY 1, 2",
        (run,),
    ).fetchall()
    return {(k, p): int(a) for k, p, a in rows}


def test_per_person_and_share_schemes(world: World) -> None:
    conn = world.conn
    v = world.villages[0]
    define_scheme(
        conn,
        SchemeSpec(
            code="per_person",
            components=(Component("household", basis="per_person", yearly_fen=30_000),),
        ),
    )
    define_scheme(
        conn,
        SchemeSpec(
            code="share",
            policy="pro_rata",
            components=(Component("collective", basis="share", share=Decimal("0.25")),),
        ),
    )
    station = world.station("V1", "village", v)
    big = world.household(v, served_by=station, members=4)
    enrol(
        conn,
        slot_id=world.slot(station, slot_no=1),
        scheme="per_person",
        household_id=big,
        starts_on=date(2017, 1, 1),
    )
    enrol(
        conn,
        slot_id=world.slot(station, slot_no=2),
        scheme="share",
        village_id=v,
        starts_on=date(2017, 1, 1),
    )
    world.feed("2025", {station: 2_001})  # 200,100 fen
    run = compute_run(conn, period="2025", created_by="clerk")
    # 4 members x 300 yuan; a quarter of the unit's 200,100 fen net revenue to the collective
    assert _amounts(world, run) == {("household", big): 120_000, ("collective", v): 50_025}


def test_a_25_year_scheme_and_versions_by_effective_date(world: World) -> None:
    conn = world.conn
    v = world.villages[0]
    define_scheme(
        conn,
        SchemeSpec(
            code="long",
            years=25,
            effective_to=date(2030, 1, 1),
            components=(Component("household", yearly_fen=50_000),),
        ),
    )
    define_scheme(
        conn,
        SchemeSpec(
            code="long",
            version=2,
            years=25,
            effective_from=date(2030, 1, 1),
            components=(Component("household", yearly_fen=60_000),),
        ),
    )
    station = world.station("V1", "village", v)
    hh = world.household(v, served_by=station)
    slot = world.slot(station, first=date(2017, 1, 1))
    enrol(
        conn,
        slot_id=slot,
        scheme="long",
        scheme_version=1,
        household_id=hh,
        starts_on=date(2017, 1, 1),
        ends_on=date(2030, 1, 1),
        end_reason="scheme_ended",
    )
    enrol(
        conn,
        slot_id=slot,
        scheme="long",
        scheme_version=2,
        household_id=hh,
        starts_on=date(2030, 1, 1),
    )
    paid = {}
    for year in (2029, 2030, 2041, 2042):
        world.feed(str(year), {station: 100_000})
        run = compute_run(conn, period=str(year), created_by="clerk")
        approve_run(conn, run, approved_by="chief", today=_LATER)
        paid[year] = _amounts(world, run).get(("household", hh), 0)
    assert paid == {2029: 50_000, 2030: 60_000, 2041: 60_000, 2042: 0}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            SchemeSpec(code="x", policy="best", components=(Component("h", yearly_fen=1),)),
            "scheme x v1: policy 'best'",
        ),
        (SchemeSpec(code="x", components=()), "components: at least one"),
        (
            SchemeSpec(code="x", components=(Component("h", basis="share"),)),
            "component h: share is required",
        ),
        (
            SchemeSpec(code="x", components=(Component("h", basis="share", share=Decimal(2)),)),
            "share must be in",
        ),
        (
            SchemeSpec(code="x", components=(Component("h", yearly_fen=-1),)),
            "yearly_fen must not be negative",
        ),
        (
            SchemeSpec(
                code="x",
                years=20,
                transfer_after_years=10,
                components=(Component("h", yearly_fen=1),),
            ),
            "transfer_after_years must be at least",
        ),
    ],
)
def test_invalid_schemes_are_named(world: World, spec: SchemeSpec, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        define_scheme(world.conn, spec)
