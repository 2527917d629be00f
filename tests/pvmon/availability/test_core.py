"""The pure core: table-driven cases of causes, lost energy and availability, and the
inputs it refuses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pvlib
import pytest

from pvmon.availability.core import (
    InverterInput,
    Outage,
    Sample,
    assess,
    counter_between_wh,
    daylight,
    lost_revenue_fen,
    ratio,
    totals,
)

DAY = date(2025, 6, 10)


def at(hour: float) -> datetime:
    """Local hour of DAY as UTC."""
    return datetime(2025, 6, 10, tzinfo=UTC) - timedelta(hours=8) + timedelta(hours=hour)


def ramp(kwp: float, *, stop: float | None = None, silent: tuple[float, float] | None = None):
    """Counter samples every 15 min from 04:00 to 20:00: 1 kWh per kWp per hour from 06:00
    to 18:00, none after ``stop``; no samples in ``silent`` (the counter runs on)."""
    out, wh, hour = [], 0.0, 4.0
    while hour <= 20:
        if silent is None or not silent[0] < hour < silent[1]:
            out.append(Sample(at(hour), int(wh)))
        if 6 <= hour < 18 and (stop is None or hour < stop):
            wh += 1000 * kwp * 0.25
        hour += 0.25
    return tuple(out)


def inv(i: int, kwp: float = 10, *, village: str = "V", outages=(), **kw: Any) -> InverterInput:
    return InverterInput(i, f"S{village}", village, 41.0, 120.0, kwp, ramp(kwp, **kw), outages)


def run(inverters, maintenance=None, expected=lambda i, a, b: 0.0):
    return assess(
        inverters=inverters,
        days=[DAY],
        actual_wh={},
        maintenance=maintenance or {},
        expected_wh=expected,
        until=at(30),
    )


def losses(days):
    return {(x.inverter_id, x.cause): x.lost_wh for d in days for x in d.losses}


CASES = [
    # (name, inverters, maintenance, expected losses {(inverter, cause): Wh})
    (
        "fault while the neighbours produce: their production per kWp",
        [inv(1, outages=[Outage("fault_code", at(9), None)], stop=9), inv(2, 20), inv(3)],
        None,
        {(1, "inverter_fault"): 90_000},
    ),
    (
        "no output alone, closed at noon",
        [inv(1, outages=[Outage("no_output", at(9), at(12))]), inv(2)],
        None,
        {(1, "inverter_fault"): 30_000},
    ),
    (
        "the inverter reports a grid disconnect",
        [inv(1, outages=[Outage("fault_code", at(9), at(10), grid_code=True)]), inv(2)],
        None,
        {(1, "grid"): 10_000},
    ),
    (
        "the whole village stops together: grid, from the expected yield",
        [
            inv(1, outages=[Outage("no_output", at(9), at(11))]),
            inv(2, outages=[Outage("no_output", at(9), at(11))]),
        ],
        None,
        {(1, "grid"): 2_000, (2, "grid"): 2_000},
    ),
    (
        "a silent logger, the counter rose: communication, nothing lost",
        [inv(1, outages=[Outage("offline", at(10), at(14))], silent=(10, 14)), inv(2)],
        None,
        {(1, "communication"): 0},
    ),
    (
        "silent and not producing: a fault",
        [inv(1, outages=[Outage("offline", at(10), at(14))], stop=10), inv(2)],
        None,
        {(1, "inverter_fault"): 40_000},
    ),
    (
        "inside a maintenance window",
        [inv(1, outages=[Outage("no_output", at(9), at(12))]), inv(2)],
        {"SV": [(at(8), at(11))]},
        {(1, "maintenance"): 20_000, (1, "inverter_fault"): 10_000},
    ),
    (
        "an outage at night loses nothing and counts no time",
        [inv(1, outages=[Outage("offline", at(0), at(3))]), inv(2)],
        None,
        {},
    ),
]


@pytest.mark.parametrize(
    ("inverters", "maintenance", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_causes_and_lost_energy(inverters, maintenance, expected) -> None:
    # the expected yield (used only when no neighbour was up): 100 Wh per kWp and hour
    got = losses(
        run(inverters, maintenance, expected=lambda i, a, b: 100 * i.kwp * (b - a).seconds / 3600)
    )
    assert {k: pytest.approx(v, rel=1e-3) for k, v in expected.items()} == got


def test_time_availability_counts_real_outages_only() -> None:
    days = run([inv(1, outages=[Outage("no_output", at(10), at(12))]), inv(2)])
    one = next(d for d in days if d.inverter_id == 1)
    assert one.period_s - one.available_s == 7200
    comm = run([inv(1, outages=[Outage("offline", at(10), at(14))], silent=(10, 14)), inv(2)])
    assert all(d.available_s == d.period_s for d in comm)
    t = totals(days)
    assert t.time_availability == ratio(t.available_s, t.period_s)
    assert t.lost_wh_by_cause["inverter_fault"] == 20_000


def test_daylight_agrees_with_pvlib_within_five_minutes() -> None:
    for day in (date(2025, 6, 21), date(2025, 12, 21), date(2025, 3, 20)):
        window = daylight(latitude=41.0, longitude=120.0, day=day)
        assert window is not None
        times = pd.date_range(f"{day} 00:00", periods=1440, freq="1min", tz="Asia/Shanghai")
        up = times[pvlib.solarposition.get_solarposition(times, 41.0, 120.0)["elevation"] > 4]
        assert abs((window[0] - up[0]).total_seconds()) < 300
        assert abs((window[1] - up[-1]).total_seconds()) < 300
    assert daylight(latitude=89.0, longitude=0.0, day=date(2025, 12, 21)) is None


@pytest.mark.parametrize(
    ("wh", "price", "fen"),
    [
        ({"inverter_fault": 1000}, Decimal("0.85"), {"inverter_fault": 85}),
        ({"grid": 5}, Decimal("0.85"), {"grid": 0}),  # 0.425 fen rounds down
        ({"grid": 6}, Decimal("0.75"), {"grid": 0}),  # 0.45
        ({"grid": 1}, Decimal("5"), {"grid": 1}),  # 0.5 rounds half up
        ({"maintenance": 0}, Decimal("0.85"), {"maintenance": 0}),
        ({"grid": 1000}, None, {}),
    ],
)
def test_lost_revenue_is_whole_fen_per_cause(wh, price, fen) -> None:
    assert lost_revenue_fen(wh, price) == fen


def test_counter_between_interpolates_and_clamps() -> None:
    s = (Sample(at(8), 0), Sample(at(10), 2000))
    assert counter_between_wh(s, at(9), at(10)) == pytest.approx(1000)
    assert counter_between_wh(s, at(6), at(12)) == pytest.approx(2000)
    assert counter_between_wh((), at(6), at(12)) is None
    assert ratio(1, 0) is None and ratio(1, 3) == Decimal("0.3333")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Outage("underperforming", at(9), None), "outage kind"),
        (lambda: Outage("offline", at(9), at(8)), "ends before"),
        (lambda: Outage("offline", at(9).replace(tzinfo=None), None), "timezone"),
        (lambda: inv(1, kwp=0), "rating"),
        (lambda: InverterInput(1, "S", "V", 91, 0, 1), "latitude"),
        (
            lambda: InverterInput(1, "S", "V", 41, 120, 1, (Sample(at(9), 1), Sample(at(8), 0))),
            "time order",
        ),
        (lambda: run([inv(1), inv(1)]), "twice"),
        (lambda: run([inv(1)], {"SV": [(at(9), at(8))]}), "maintenance window"),
        (lambda: lost_revenue_fen({"grid": 1}, Decimal("-1")), "negative"),
        (lambda: daylight(latitude=100, longitude=0, day=DAY), "out of range"),
        (
            lambda: assess(
                inverters=[],
                days=[DAY],
                actual_wh={},
                maintenance={},
                expected_wh=lambda i, a, b: 0.0,
                until=at(9),
                comm_share=Decimal("1.5"),
            ),
            "comm_share",
        ),
    ],
)
def test_invalid_inputs_are_refused(build, message) -> None:
    with pytest.raises(ValueError, match=message):
        build()
