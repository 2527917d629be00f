"""Energy rollups from lifetime-counter differences, on both flavours."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from pvmon.db.readings import Reading, write_readings
from pvmon.db.rollups import refresh_rollups
from pvmon.quality import Quality
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile

# 2025-06-01 00:00 in China Standard Time
DAY0 = datetime(2025, 5, 31, 16, 0, tzinfo=UTC)


@pytest.fixture
def inverter_id(conn: psycopg.Connection) -> int:
    store_fleet(
        conn,
        FleetFile.model_validate(
            generate_fleet(households=1, village_stations=1, joint_villages=2)
        ),
    )
    row = conn.execute(
        "SELECT id FROM inverters WHERE rated_ac_w = 4000 ORDER BY id LIMIT 1"
    ).fetchone()
    assert row is not None
    return int(row[0])


def _day_profile(
    start_wh: int, day: datetime, *, step_min: int = 5, skip: tuple[int, int] | None = None
) -> tuple[list[Reading], int]:
    """Readings from 05:00 to 19:00 local, 1.2 kW flat between 08:00 and 16:00 local."""
    readings, energy = [], start_wh
    t = day + timedelta(hours=5)
    while t <= day + timedelta(hours=19):
        local_hour = (t - day).total_seconds() / 3600
        power = 1200.0 if 8 <= local_hour < 16 else 0.0
        if skip is None or not (skip[0] <= local_hour < skip[1]):
            readings.append(Reading(time=t, inverter_id=0, ac_power_w=power, energy_wh=energy))
        energy += int(power * step_min / 60)
        t += timedelta(minutes=step_min)
    return readings, energy


def _with_inverter(readings: list[Reading], inverter_id: int) -> list[Reading]:
    return [r._replace(inverter_id=inverter_id) for r in readings]


def _daily(conn: psycopg.Connection, inverter_id: int) -> dict[date, tuple[int, bool]]:
    refresh_rollups(conn)
    rows = conn.execute(
        "SELECT day, energy_wh, counter_reset FROM energy_daily "
        "WHERE inverter_id = %s ORDER BY day",
        (inverter_id,),
    ).fetchall()
    return {d: (e, r) for d, e, r in rows}


def test_daily_energy_is_the_counter_difference(conn: psycopg.Connection, inverter_id: int) -> None:
    day1, end1 = _day_profile(1_000_000, DAY0)
    day2, _ = _day_profile(end1, DAY0 + timedelta(days=1))
    assert write_readings(conn, _with_inverter(day1 + day2, inverter_id)) == len(day1 + day2)
    daily = _daily(conn, inverter_id)
    assert daily == {date(2025, 6, 1): (9600, False), date(2025, 6, 2): (9600, False)}
    hourly = conn.execute(
        "SELECT sum(energy_wh)::bigint, count(*) FILTER (WHERE energy_wh > 0) FROM energy_hourly "
        "WHERE inverter_id = %s",
        (inverter_id,),
    ).fetchone()
    # 08:00-16:00 local: the rise between 15:55 and 16:00 was produced in the 15:00 hour
    # (16:00's reading shows no power), so eight hours a day carry energy
    assert hourly == (19200, 16)
    station = conn.execute(
        "SELECT s.day, s.energy_wh FROM station_energy_daily s JOIN inverters i "
        "ON i.station_id = s.station_id WHERE i.id = %s ORDER BY day",
        (inverter_id,),
    ).fetchall()
    assert station == [(date(2025, 6, 1), 9600), (date(2025, 6, 2), 9600)]


def test_writes_are_idempotent(conn: psycopg.Connection, inverter_id: int) -> None:
    readings, _ = _day_profile(0, DAY0)
    readings = _with_inverter(readings, inverter_id)
    assert write_readings(conn, readings) == len(readings)
    assert write_readings(conn, readings) == 0
    assert write_readings(conn, readings[:10] + readings[-3:]) == 0
    count = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert count == (len(readings),)
    assert _daily(conn, inverter_id) == {date(2025, 6, 1): (9600, False)}


def test_out_of_order_batches_give_the_same_energy(
    conn: psycopg.Connection, inverter_id: int
) -> None:
    day1, end1 = _day_profile(500, DAY0)
    day2, _ = _day_profile(end1, DAY0 + timedelta(days=1))
    readings = _with_inverter(day1 + day2, inverter_id)
    random.Random(7).shuffle(readings)
    for start in range(0, len(readings), 37):  # many small batches, refreshed in between
        write_readings(conn, readings[start : start + 37])
        refresh_rollups(conn)
    assert _daily(conn, inverter_id) == {
        date(2025, 6, 1): (9600, False),
        date(2025, 6, 2): (9600, False),
    }


def test_a_gap_inside_a_day_is_split_between_its_hours_by_the_sun(
    conn: psycopg.Connection, inverter_id: int
) -> None:
    readings, _ = _day_profile(0, DAY0, skip=(10, 13))  # logger silent 10:00-13:00 local
    write_readings(conn, _with_inverter(readings, inverter_id))
    assert _daily(conn, inverter_id) == {date(2025, 6, 1): (9600, False)}
    hours = {
        int((t - DAY0).total_seconds() // 3600): (e, est, n)
        for t, e, est, n in conn.execute(
            "SELECT bucket_start, energy_wh, estimated_wh, samples FROM energy_hourly "
            "WHERE inverter_id = %s ORDER BY bucket_start",
            (inverter_id,),
        )
    }
    assert sum(e for e, _, _ in hours.values()) == 9600  # the hours add up to the day
    # the silent 09:55-13:00 (3700 Wh) is spread over the hours it covers, by the sun
    assert sum(est for _, est, _ in hours.values()) == 3700
    for hour in (10, 11, 12):  # no reading of their own: rows made from the gap alone
        energy_wh, estimated_wh, samples = hours[hour]
        assert samples == 0 and energy_wh == estimated_wh > 1000
    assert 0 < hours[9][1] < 200  # the gap's five minutes in the 09:00 hour
    assert hours[13][:2] == (1100, 0)  # from 13:00, read as before


def test_counter_reset_between_days_is_not_negative(
    conn: psycopg.Connection, inverter_id: int
) -> None:
    day1, _ = _day_profile(9_000_000, DAY0)
    day2, _ = _day_profile(0, DAY0 + timedelta(days=1))  # inverter replaced overnight
    day2[0] = day2[0]._replace(quality=int(Quality.COUNTER_RESET))
    write_readings(conn, _with_inverter(day1 + day2, inverter_id))
    daily = _daily(conn, inverter_id)
    assert daily[date(2025, 6, 1)] == (9600, False)
    assert daily[date(2025, 6, 2)] == (9600, True)


def test_counter_reset_inside_a_day_counts_the_part_after_it(
    conn: psycopg.Connection, inverter_id: int
) -> None:
    readings, _ = _day_profile(50_000, DAY0)
    # at 12:00 local the counter restarts from 0 (replacement); 4.8 kWh come after it
    cut = next(i for i, r in enumerate(readings) if r.time >= DAY0 + timedelta(hours=12))
    after = readings[cut].energy_wh
    readings = readings[:cut] + [r._replace(energy_wh=r.energy_wh - after) for r in readings[cut:]]
    write_readings(conn, _with_inverter(readings, inverter_id))
    energy, reset = _daily(conn, inverter_id)[date(2025, 6, 1)]
    assert reset is True
    assert energy == 4800  # the morning before the restart cannot be told apart; flagged


def test_garbage_jump_is_not_counted(conn: psycopg.Connection, inverter_id: int) -> None:
    day1, end1 = _day_profile(0, DAY0)
    day2, _ = _day_profile(end1 + 4_000_000_000, DAY0 + timedelta(days=1))  # x65536-style spike
    write_readings(conn, _with_inverter(day1 + day2, inverter_id))
    assert _daily(conn, inverter_id)[date(2025, 6, 2)] == (9600, False)


def test_rejected_counter_values_are_ignored(conn: psycopg.Connection, inverter_id: int) -> None:
    readings, _ = _day_profile(10_000, DAY0)
    # the dawn dip to 0 was rejected by the collector: stored as NULL with its reason
    readings[0] = readings[0]._replace(
        energy_wh=None,
        quality=int(Quality.COUNTER_DIP),
        raw={"energy_wh": {"raw": 0, "reason": "counter dip"}},
    )
    write_readings(conn, _with_inverter(readings, inverter_id))
    assert _daily(conn, inverter_id) == {date(2025, 6, 1): (9600, False)}
    raw = conn.execute("SELECT raw FROM readings WHERE energy_wh IS NULL").fetchone()
    assert raw == ({"energy_wh": {"raw": 0, "reason": "counter dip"}},)


def _sun_counter(
    conn: psycopg.Connection, inverter_id: int, *, start: datetime, days: int, peak_w: float
) -> list[tuple[datetime, int, float]]:
    """Every 5 minutes from ``start`` for ``days`` days: (time, counter [Wh], power [W])
    of an inverter producing exactly in proportion to the clear-sky sun the views split
    gaps by (``pvmon_sun_between`` at the inverter's site), ``peak_w`` at a full sun."""
    rows = conn.execute(
        """
        SELECT t, pvmon_sun_between(s.latitude, s.longitude, s.tilt_deg, s.azimuth_deg,
                                    t, t + INTERVAL '5 minutes')
          FROM inverters i JOIN stations s ON s.id = i.station_id,
               generate_series(%s::timestamptz, %s::timestamptz - INTERVAL '5 minutes',
                               INTERVAL '5 minutes') t
         WHERE i.id = %s ORDER BY t
        """,
        (start, start + timedelta(days=days), inverter_id),
    ).fetchall()
    out, energy = [], 3_000_000.0
    for t, sun in rows:
        out.append((t, round(energy), peak_w * sun * 12))  # sun-hours in 5 min x 12 = kW/m2
        energy += peak_w * sun
    return out


def _truth_by_day(samples: list[tuple[datetime, int, float]]) -> dict[date, int]:
    """The counter's rise within each local day [Wh] (readings every 5 minutes)."""
    out: dict[date, int] = {}
    for (t, wh, _), (_, next_wh, _) in itertools.pairwise(samples):
        day = (t + timedelta(hours=8)).date()
        out[day] = out.get(day, 0) + next_wh - wh
    return out


def _hours(day: int, hour: float) -> datetime:
    return DAY0 + timedelta(days=day, hours=hour)


@pytest.mark.parametrize(
    ("silent", "expect"),
    [
        # a logger asleep from dusk (17:00, still producing) to dawn (06:00, producing)
        ([(_hours(0, 17), _hours(1, 6)), (_hours(1, 17), _hours(2, 6))], "exact"),
        # unreachable from before dawn until 19:23 (first reading after it: evening, 0 W)
        ([(_hours(0, 21), _hours(1, 19.4))], "exact"),
        # silent from 14:00 on the first day to 10:00 on the third: the second day has no
        # reading of its own but a rise across it
        ([(_hours(0, 14), _hours(2, 10))], "exact"),
        # only a pre-dawn reading on the last day, nothing after: nothing is known of it
        ([(_hours(2, 5), _hours(3, 0))], "unknown last day"),
    ],
)
def test_a_gaps_rise_goes_to_the_days_that_produced_it(
    conn: psycopg.Connection,
    inverter_id: int,
    silent: list[tuple[datetime, datetime]],
    expect: str,
) -> None:
    samples = _sun_counter(conn, inverter_id, start=DAY0, days=3, peak_w=3000.0)
    truth = _truth_by_day([*samples, (DAY0 + timedelta(days=3), samples[-1][1], 0.0)])
    readings = [
        Reading(time=t, inverter_id=inverter_id, ac_power_w=w, energy_wh=wh)
        for t, wh, w in samples
        if not any(a < t <= b for a, b in silent)
    ]
    write_readings(conn, readings)
    refresh_rollups(conn)
    got = {
        d: (e, est, n)
        for d, e, est, n in conn.execute(
            "SELECT day, energy_wh, estimated_wh, samples FROM energy_daily "
            "WHERE inverter_id = %s ORDER BY day",
            (inverter_id,),
        )
    }
    days = sorted(truth)
    assert sorted(got) == days
    checked = days if expect == "exact" else days[:-1]
    for day in checked:  # within rounding of the truth, every day
        assert got[day][0] == pytest.approx(truth[day], abs=3), (day, got[day], truth[day])
        assert truth[day] > 10_000
    if expect == "exact":
        assert any(est > 0 for _, est, _ in got.values())  # split days say so
    if expect == "unknown last day":
        assert got[days[-1]][0] is None  # not 0: a pre-dawn reading tells nothing
        assert got[days[-2]][0] == pytest.approx(truth[days[-2]], abs=3)
    if silent == [(_hours(0, 14), _hours(2, 10))]:
        energy_wh, estimated_wh, samples_n = got[days[1]]
        assert samples_n == 0 and estimated_wh == energy_wh  # wholly from the counter's rise
    hourly = conn.execute(
        "SELECT sum(energy_wh)::bigint FROM energy_hourly WHERE inverter_id = %s",
        (inverter_id,),
    ).fetchone()
    assert hourly is not None  # the hours add up to the days
    assert hourly[0] == sum(e for e, _, _ in got.values() if e is not None)


@pytest.mark.parametrize(
    ("dusk_hour", "dawn_hour", "dawn_power_w", "day2_wh"),
    [
        # asleep while producing, awake before production: the evening is day 1's
        (17.0, 6.0, 0.0, 1200),
        # awake at first light: its few Wh were day 2's
        (17.0, 7.5, 30.0, 15 + 1200),
        # asleep only after production ended: the dawn rise is day 2's, however small
        (20.0, 7.5, 30.0, 15 + 1200),
    ],
)
def test_a_short_gap_at_dusk_stays_with_its_day(
    conn: psycopg.Connection,
    inverter_id: int,
    dusk_hour: float,
    dawn_hour: float,
    dawn_power_w: float,
    day2_wh: int,
) -> None:
    """A flat 1.2 kW until 19:00 is no sun's shape, but whatever the shape, a rise over
    a night with no sun at either end is the earlier day's when nothing came after dawn."""
    readings, day1_truth, _ = _evening_then_morning(
        dusk_hour=dusk_hour, dawn_hour=dawn_hour, dawn_power_w=dawn_power_w
    )
    write_readings(conn, _with_inverter(readings, inverter_id))
    daily = _daily(conn, inverter_id)
    assert sum(e for e, _ in daily.values()) == day1_truth + day2_wh
    if dawn_hour < 7:  # awake before the sun: the whole rise belongs to day 1
        assert daily[date(2025, 6, 1)][0] == day1_truth
        assert daily[date(2025, 6, 2)][0] == day2_wh


def _evening_then_morning(
    *, dusk_hour: float, dawn_hour: float, dawn_power_w: float
) -> tuple[list[Reading], int, int]:
    """Day 1 produces 1.2 kW from 08:00 to 19:00 local, but its logger sleeps from
    ``dusk_hour``; day 2's first reading is at ``dawn_hour`` with ``dawn_power_w``.

    Returns the readings and the true energy of day 1 and of day 2 up to its first
    reading [Wh].
    """
    readings: list[Reading] = []
    energy, start = 2_000_000, 2_000_000
    t = DAY0 + timedelta(hours=5)
    while t < DAY0 + timedelta(hours=24):
        hour = (t - DAY0).total_seconds() / 3600
        power = 1200.0 if 8 <= hour < 19 else 0.0
        if hour < dusk_hour:
            readings.append(Reading(time=t, inverter_id=0, ac_power_w=power, energy_wh=energy))
        energy += int(power * 5 / 60)
        t += timedelta(minutes=5)
    day1 = energy - start
    early = int(dawn_power_w * 0.5)  # production since dawn on day 2, if any (half an hour)
    dawn = DAY0 + timedelta(days=1, hours=dawn_hour)
    readings.append(
        Reading(time=dawn, inverter_id=0, ac_power_w=dawn_power_w, energy_wh=energy + early)
    )
    readings.append(
        Reading(
            time=dawn + timedelta(hours=1),
            inverter_id=0,
            ac_power_w=1200.0,
            energy_wh=energy + early + 1200,
        )
    )
    return readings, day1, early


def test_upgrading_to_overnight_attribution_recomputes_stored_rollups(
    conn: psycopg.Connection, inverter_id: int, flavour: str
) -> None:
    from pvmon.db.migrate import downgrade, upgrade

    downgrade(conn, target=9)
    readings, day1_truth, _ = _evening_then_morning(dusk_hour=17.0, dawn_hour=6.0, dawn_power_w=0.0)
    write_readings(conn, _with_inverter(readings, inverter_id))
    before = _daily(conn, inverter_id)
    assert before[date(2025, 6, 1)][0] == day1_truth - 2500  # 0009: the old attribution
    upgrade(conn, target=10, timescaledb="on" if flavour == "timescaledb" else "off")
    after = conn.execute(
        "SELECT day, energy_wh FROM energy_daily WHERE inverter_id = %s ORDER BY day",
        (inverter_id,),
    ).fetchall()  # no refresh here: the migration itself recomputed what was stored
    assert after == [(date(2025, 6, 1), day1_truth), (date(2025, 6, 2), 1200)]
    upgrade(conn, timescaledb="on" if flavour == "timescaledb" else "off")  # 0015: the split
    newest = conn.execute(
        "SELECT day, energy_wh FROM energy_daily WHERE inverter_id = %s ORDER BY day",
        (inverter_id,),
    ).fetchall()
    assert newest == after  # awake before dawn: the whole night's rise was day 1's anyway


def test_today_stays_live_after_a_backfill_refresh(
    conn: psycopg.Connection, inverter_id: int, flavour: str
) -> None:
    """On TimescaleDB, as the collector runs in production: a backfill refreshes the
    aggregates, then readings keep arriving in this hour and today, and show in this
    hour's and today's energy with no explicit refresh (real-time aggregation)."""
    if flavour != "timescaledb":
        pytest.skip("plain PostgreSQL's rollups are tables refreshed on demand")
    now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    hour = now.replace(minute=0, second=0, microsecond=0)
    backfill = [
        Reading(time=hour - timedelta(hours=h), inverter_id=inverter_id, ac_power_w=1200.0,
                energy_wh=1_000_000 - h * 1200)
        for h in (3, 2, 1, 0)
    ]  # fmt: skip
    write_readings(conn, backfill)
    refresh_rollups(conn)  # as `pvmon simulate backfill` and the collector's replay do
    live = [
        Reading(time=hour + timedelta(minutes=m), inverter_id=inverter_id, ac_power_w=1200.0,
                energy_wh=1_000_000 + m * 20)
        for m in (20, 40)
    ]  # fmt: skip
    write_readings(conn, live)
    day = conn.execute(
        "SELECT (%s::timestamptz AT TIME ZONE 'Asia/Shanghai')::date", (hour,)
    ).fetchone()[0]  # type: ignore[index]

    def energy() -> tuple[int, int]:
        rows = [
            conn.execute(
                f"SELECT energy_wh FROM {view} WHERE inverter_id = %s AND {key} = %s",
                (inverter_id, at),
            ).fetchone()
            for view, key, at in (("energy_hourly", "bucket_start", hour),
                                  ("energy_daily", "day", day))
        ]  # fmt: skip
        assert rows[0] is not None and rows[1] is not None
        return int(rows[0][0]), int(rows[1][0])

    live_hour, live_day = energy()
    # the truth: everything materialised, open buckets included
    for view in ("readings_hourly", "readings_daily"):
        conn.execute("CALL refresh_continuous_aggregate(%s, NULL, NULL)", (view,))
    assert (live_hour, live_day) == energy()
    assert live_hour >= 800 and live_day >= live_hour  # the live readings' 800 Wh count
